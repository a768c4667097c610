// Why: `npm run mariadb:down`: stop the local MariaDB and remove its files (the unpacked packages stay).
import { mariadbDown } from './mariadb.ts';

try {
  await mariadbDown();
} catch (err) {
  console.error(`mariadb:down failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
