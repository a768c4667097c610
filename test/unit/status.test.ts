import { describe, expect, it } from 'vitest';
import { MAX_STATUS_STRING, TRUNCATION_MARKER, mergeConditions, truncate } from '../../src/runtime/status.ts';
import { diff, encodeEssence, essenceOf, MAX_ESSENCE_BYTES } from '../../src/runtime/essence.ts';

describe('status', () => {
  it('keeps lastTransitionTime while a condition keeps its status, and moves it on a change', () => {
    const first = mergeConditions([], [{ type: 'Ready', status: 'False', reason: 'A', message: 'x' }], 't1', 1);
    const same = mergeConditions(first, [{ type: 'Ready', status: 'False', reason: 'B', message: 'y' }], 't2', 2);
    const flipped = mergeConditions(same, [{ type: 'Ready', status: 'True', reason: 'C', message: 'z' }], 't3', 3);
    expect(same[0]).toMatchObject({ lastTransitionTime: 't1', reason: 'B', observedGeneration: 2 });
    expect(flipped[0]).toMatchObject({ lastTransitionTime: 't3', status: 'True' });
  });

  it('truncates long command output with a marker', () => {
    const long = 'x'.repeat(MAX_STATUS_STRING * 3);
    const cut = truncate(long);
    expect(cut.length).toBe(MAX_STATUS_STRING);
    expect(cut.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(truncate('short')).toBe('short');
  });
});

describe('essence', () => {
  const base = { apiVersion: 'v1', kind: 'X', metadata: { name: 'a', resourceVersion: '1', generation: 1 }, spec: { b: 1, a: 2 } };

  it('ignores status, resourceVersion, managedFields and our own annotations', () => {
    const noisy = {
      ...base,
      metadata: { ...base.metadata, resourceVersion: '99', managedFields: [{}], annotations: { 'kustomate.io/last-handled-configuration': '{}' } },
      status: { x: 1 },
    };
    expect(encodeEssence(essenceOf(noisy))).toBe(encodeEssence(essenceOf(base)));
  });

  it('keeps only a digest when the essence is too large', () => {
    const big = { ...base, spec: { blob: 'y'.repeat(MAX_ESSENCE_BYTES) } };
    expect(JSON.parse(encodeEssence(essenceOf(big)))).toEqual({ digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('diffs by leaf path', () => {
    expect(diff({ spec: { count: 1, keep: 1 } }, { spec: { count: 2, keep: 1, added: 'x' } })).toEqual([
      ['add', ['spec', 'added'], undefined, 'x'],
      ['change', ['spec', 'count'], 1, 2],
    ]);
  });
});
