// Why: `npm run mariadb:up`: start or reuse the local MariaDB; the last line is the export line for its clients.
import { exportLine, mariadbUp } from './mariadb.ts';

try {
  const mariadb = await mariadbUp();
  console.error(
    '\nMariaDB is up. The line below points mysql, mysqldump and mysqladmin at it (eval "$(npm run --silent mariadb:up)" does it);' +
      '\nthen e.g. mysql --host="$MYSQL_HOST" --user=root\n',
  );
  // Only the export line goes to stdout, so eval "$(...)" works.
  console.log(exportLine(mariadb));
} catch (err) {
  console.error(`mariadb:up failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
