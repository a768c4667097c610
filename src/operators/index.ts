// Why: which operators to run or render: the examples by name, or the operators a module of your own exports.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isOperator, type Operator } from '../operator/operator.ts';
import { database } from './database/index.ts';
import { databasetable } from './databasetable/index.ts';
import { gordon } from './gordon/index.ts';
import { mysql } from './mysql/index.ts';
import { sample } from './sample/index.ts';

export const OPERATORS: ReadonlyMap<string, Operator<any>> = new Map<string, Operator<any>>([sample, database, gordon, mysql, databasetable].map((op) => [op.name, op]));

export class UnknownOperatorError extends Error {
  override name = 'UnknownOperatorError';
}

/** A module path rather than a built-in name: it has a slash or a script extension. */
export function isModulePath(arg: string): boolean {
  return arg.includes('/') || arg.includes(path.sep) || /\.(m?[jt]s)$/.test(arg);
}

/** Every Operator a module exports (named or default). */
export async function loadOperatorModule(file: string): Promise<Operator<any>[]> {
  const resolved = path.resolve(file);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ERR_MODULE_NOT_FOUND' && (err as Error).message.includes(resolved) ? 'no such file' : (err as Error).message;
    throw new UnknownOperatorError(`cannot load operator module ${file}: ${why}`);
  }
  const found = [...new Set(Object.values(mod).filter(isOperator))];
  if (found.length === 0) throw new UnknownOperatorError(`${file} exports no Operator (export const myOperator = new Operator(...))`);
  return found;
}

/** Built-in names and module paths, in order; no arguments means every built-in operator. */
export async function pickOperators(args: string[]): Promise<Operator<any>[]> {
  if (args.length === 0) return [...OPERATORS.values()];
  const picked: Operator<any>[] = [];
  for (const arg of args) {
    if (isModulePath(arg)) {
      picked.push(...(await loadOperatorModule(arg)));
      continue;
    }
    const op = OPERATORS.get(arg);
    if (!op) throw new UnknownOperatorError(`unknown operator "${arg}" (known: ${[...OPERATORS.keys()].join(', ')}; or a module path such as ./my-operator.ts)`);
    picked.push(op);
  }
  const names = picked.map((o) => o.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new UnknownOperatorError(`two operators are named "${twice}"; operator names must be unique`);
  return picked;
}

/** The operator whose resource matches an object's apiVersion and kind. */
export function operatorFor(operators: Iterable<Operator<any>>, apiVersion: string, kind: string): Operator<any> | undefined {
  return [...operators].find((op) => `${op.resource.group}/${op.resource.version}` === apiVersion && op.resource.kind === kind);
}
