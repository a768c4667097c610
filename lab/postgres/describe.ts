// Why: the lab's `psql \d`: the tables in DATABASE_URL's database, or one table's columns and primary key, read
// from information_schema with the table name as a parameter (no psql needed).
import pg from 'pg';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('describe: set DATABASE_URL first (npm run postgres:up prints the line)');
  process.exit(2);
}
const table = process.argv[2];
const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
await client.connect();
try {
  if (!table) {
    const { rows } = await client.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1");
    console.log(rows.length ? `tables: ${rows.map((r) => r.name).join(', ')}` : 'Did not find any relations.');
  } else {
    const { rows } = await client.query<{ name: string; type: string; key: boolean }>(
      `SELECT c.column_name AS name, format_type(a.atttypid, a.atttypmod) AS type,
              EXISTS (SELECT 1 FROM information_schema.table_constraints tc
                        JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name, table_name)
                       WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema
                         AND tc.table_name = c.table_name AND k.column_name = c.column_name) AS key
         FROM information_schema.columns c
         JOIN pg_catalog.pg_attribute a ON a.attrelid = to_regclass(format('%I.%I', c.table_schema, c.table_name)) AND a.attname = c.column_name
        WHERE c.table_schema = current_schema() AND c.table_name = $1 ORDER BY c.ordinal_position`,
      [table],
    );
    if (!rows.length) console.log(`Did not find any relation named "${table}".`);
    else {
      console.log(`Table "${table}"`);
      for (const r of rows) console.log(`  ${r.name.padEnd(16)} ${r.type}${r.key ? '  (primary key)' : ''}`);
    }
  }
} finally {
  await client.end();
}
