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
/** On what is refused: the field, and the limit, that the operator's own problem message must name. */
const FIELD = 'bad-input.kustomate.io/field';
const LIMIT = 'bad-input.kustomate.io/limit';

const cases = fs
  .readdirSync(CORPUS)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(CORPUS, f), 'utf8')).map((d) => d.toJS() as KubeObject))
  .map((obj) => ({ obj, expect: obj.metadata.annotations![EXPECT]!, field: obj.metadata.annotations![FIELD], limit: obj.metadata.annotations![LIMIT] }));

/** What the API server refuses while decoding (fields the schema does not know): code ignores such fields, harmlessly. */
const decodingOnly = (expect: string) => expect.includes('unknown field');

describe('the bad-input corpus, against the operators’ own validation', () => {
  it('holds at least 60 bad custom resources', () => {
    expect(cases.filter((c) => c.expect !== 'ready').length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases.filter((c) => c.expect !== 'ready' && !c.expect.startsWith('notowned') && !decodingOnly(c.expect)).map((c) => [c.obj.kind, c.obj.metadata.name, c] as const))(
    'refuses %s %s in code too, with a problem that names the field and the limit',
    (_kind, _name, c) => {
      expect(c.field, `annotation ${FIELD}`).toBeTruthy();
      expect(c.limit, `annotation ${LIMIT}`).toBeTruthy();
      const operator = operatorFor(OPERATORS.values(), c.obj.apiVersion, c.obj.kind)!;
      const problems = operator.problems(c.obj);
      // The field is what the message is about (it comes first); the limit is said in the same message.
      expect(problems.filter((p) => p.startsWith(c.field!) && p.includes(c.limit!)), problems.join('; ')).not.toEqual([]);
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
