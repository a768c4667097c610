// Why: the example operators by name, for `kustomate run [OPERATOR ...]` and `kustomate render`.
import type { Operator } from '../runtime/operator.ts';
import { database } from './database/index.ts';
import { gordon } from './gordon/index.ts';
import { sample } from './sample/index.ts';

export const OPERATORS: ReadonlyMap<string, Operator> = new Map([sample, database, gordon].map((op) => [op.name, op]));

export class UnknownOperatorError extends Error {
  override name = 'UnknownOperatorError';
}

export function pickOperators(names: string[]): Operator[] {
  if (names.length === 0) return [...OPERATORS.values()];
  return names.map((n) => {
    const op = OPERATORS.get(n);
    if (!op) throw new UnknownOperatorError(`unknown operator "${n}" (known: ${[...OPERATORS.keys()].join(', ')})`);
    return op;
  });
}

/** The operator whose resource matches an object's apiVersion and kind. */
export function operatorFor(apiVersion: string, kind: string): Operator | undefined {
  return [...OPERATORS.values()].find((op) => `${op.resource.group}/${op.resource.version}` === apiVersion && op.resource.kind === kind);
}
