// Why: `npm run postgres:down`: stop the local PostgreSQL and remove its files.
import { postgresDown } from './postgres.ts';

try {
  await postgresDown();
} catch (err) {
  console.error(`postgres:down failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
