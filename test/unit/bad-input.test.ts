// The same rules in code as in the CRDs: every bad custom resource of the corpus that the API server refuses for its
// content is also refused by its operator's own validation, for when an older, laxer CRD is installed.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/kube/api.ts';
import { OPERATORS, operatorFor } from '../../src/operators/index.ts';

const CORPUS = 'test/e2e/fixtures/bad-input';
const EXPECT = 'bad-input.kustomate.io/expect';

const cases = fs
  .readdirSync(CORPUS)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(CORPUS, f), 'utf8')).map((d) => d.toJS() as KubeObject))
  .map((obj) => ({ obj, expect: obj.metadata.annotations![EXPECT]! }));

/** What the API server refuses while decoding (fields the schema does not know): code ignores such fields, harmlessly. */
const decodingOnly = (expect: string) => expect.includes('unknown field');

describe('the bad-input corpus, against the operators’ own validation', () => {
  it('holds at least 60 bad custom resources', () => {
    expect(cases.filter((c) => c.expect !== 'ready').length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases.filter((c) => c.expect !== 'ready' && !c.expect.startsWith('notowned') && !decodingOnly(c.expect)).map((c) => [c.obj.kind, c.obj.metadata.name, c] as const))(
    'refuses %s %s in code too',
    (_kind, _name, c) => {
      const operator = operatorFor(OPERATORS.values(), c.obj.apiVersion, c.obj.kind)!;
      expect(operator.problems(c.obj)).not.toEqual([]);
    },
  );

  it.each(cases.filter((c) => c.expect === 'ready' || c.expect.startsWith('notowned')).map((c) => [c.obj.kind, c.obj.metadata.name, c] as const))(
    'accepts %s %s (at a limit, or refused only for what already exists)',
    (_kind, _name, c) => {
      const operator = operatorFor(OPERATORS.values(), c.obj.apiVersion, c.obj.kind)!;
      expect(operator.problems(c.obj)).toEqual([]);
    },
  );
});
