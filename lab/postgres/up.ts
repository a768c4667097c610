// Why: `npm run postgres:up`: start or reuse the local PostgreSQL; the last line is the DATABASE_URL export line.
import { postgresUp } from './postgres.ts';

try {
  const { url } = await postgresUp();
  console.error('\nPostgreSQL is up. Point the DatabaseTable operator at it with the line below (eval "$(npm run --silent postgres:up)" does it):\n');
  // Only the export line goes to stdout, so eval "$(...)" works; the URL holds no character the shell would read.
  console.log(`export DATABASE_URL=${url}`);
} catch (err) {
  console.error(`postgres:up failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
