// Why: the DatabaseTable operator of the kopf demo (kopf.demo/v1): a custom resource declares a PostgreSQL table,
// and the operator creates, alters and drops it. No Kubernetes children: handlers talk to PostgreSQL with pg.
// Better than the seed: quoted identifiers, a type grammar, ownership marked on the table, one transaction per change.
import { PermanentError } from '../../operator/errors.ts';
import { Operator, type Essence, type HandlerContext } from '../../operator/operator.ts';
import { inTransaction, withDatabase } from './connection.ts';
import { refusals } from './plan.ts';
import { readSpec, tableOf, tableProblems, type DatabaseTableSpec, type Table } from './spec.ts';
import { converge, dropOwned, ownerComment } from './sql.ts';

export { setDefaultDatabaseUrl, hasDefaultDatabaseUrl } from './connection.ts';
export type { DatabaseTableSpec } from './spec.ts';

type Ctx = HandlerContext<DatabaseTableSpec>;

const owner = (ctx: Ctx) => ownerComment(ctx.namespace, ctx.name);

/** kopf-style: the statements that ran are the message, or what was found when none had to. */
const report = (table: Table, ran: string[]) => ({ table: table.name, message: ran.length ? ran.join('; ') : `table ${table.name} already matches the spec` });

/** Create, and update once its changes are allowed: one transaction from what the catalog says to the spec. */
async function apply(ctx: Ctx, table: Table) {
  const ran = await withDatabase(ctx, table, (db) => inTransaction(db, () => converge(db, table, owner(ctx))));
  ctx.logger.info({ table: table.name, statements: ran.length }, 'table converged');
  return report(table, ran);
}

async function createTable(ctx: Ctx) {
  return apply(ctx, tableOf(ctx.spec));
}

/** Refuses what the seed refuses (a removed column, a changed type) before connecting; the table stays untouched. */
async function updateTable(ctx: Ctx) {
  const table = tableOf(ctx.spec);
  const last = ctx.old as Essence | undefined;
  if (last === undefined) {
    throw new PermanentError('the spec last handled was too large to keep, so this change cannot be checked; revert it, or delete and re-create the DatabaseTable', 'UnsupportedChange');
  }
  const before = readSpec(last.spec).table;
  const refused = refusals(before, table);
  if (refused.length) {
    throw new PermanentError(`refused: ${refused.join('; ')}; table ${before.name} was left untouched (revert the spec to heal)`, 'UnsupportedChange');
  }
  return apply(ctx, table);
}

/**
 * Drops the table this DatabaseTable owns (by the mark on it, whatever its spec says now). One that never created
 * its table (no database yet, say) has nothing to drop and goes at once. When its connection Secret is gone there is
 * no way to reach the database: the table is left, and the finalizer goes.
 */
async function dropTable(ctx: Ctx) {
  const { table } = readSpec(ctx.spec);
  if (!(ctx.body.status as { create_table?: unknown } | undefined)?.create_table) return { message: `no table to drop: table ${table.name} was never created` };
  try {
    const ran = await withDatabase(ctx, table, (db) => inTransaction(db, () => dropOwned(db, owner(ctx))));
    return { message: ran.length ? ran.join('; ') : 'no table of this DatabaseTable to drop' };
  } catch (err) {
    if ((err as { reason?: unknown }).reason !== 'SecretNotFound') throw err;
    ctx.logger.warn({ table: table.name }, `table left in place: ${(err as Error).message}`);
    return { message: `table ${table.name} left in place: ${(err as Error).message}` };
  }
}

export const databasetable = new Operator<DatabaseTableSpec>({
  name: 'databasetable',
  resource: { group: 'kopf.demo', version: 'v1', plural: 'databasetables', kind: 'DatabaseTable' },
})
  .validate(tableProblems)
  // The results land in status.create_table, status.update_table; each attempt may take a minute at most.
  .onCreate('create_table', createTable, { timeoutMs: 60_000 })
  .onUpdate('update_table', updateTable, { timeoutMs: 60_000 })
  .onDelete('drop_table', dropTable, { timeoutMs: 60_000 });
