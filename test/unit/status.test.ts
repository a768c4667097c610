import { describe, expect, it } from 'vitest';
import { MAX_STATUS_STRING, TRUNCATION_MARKER, mergeConditions, truncate } from '../../src/reconcile/conditions.ts';
import { diff, encodeEssence, essenceOf, lastHandled, MAX_ESSENCE_BYTES } from '../../src/reconcile/essence.ts';
import { mergeIsNoop, statusPatch } from '../../src/reconcile/status.ts';

describe('status', () => {
  it('keeps lastTransitionTime while a condition keeps its status, and moves it on a change', () => {
    const first = mergeConditions([], [{ type: 'Ready', status: 'False', reason: 'A', message: 'x' }], 't1', 1);
    const same = mergeConditions(first, [{ type: 'Ready', status: 'False', reason: 'B', message: 'y' }], 't2', 2);
    const flipped = mergeConditions(same, [{ type: 'Ready', status: 'True', reason: 'C', message: 'z' }], 't3', 3);
    expect(same[0]).toMatchObject({ lastTransitionTime: 't1', reason: 'B', observedGeneration: 2 });
    expect(flipped[0]).toMatchObject({ lastTransitionTime: 't3', status: 'True' });
  });

  it('sees that a merge patch would change nothing, so no write is made', () => {
    expect(mergeIsNoop({ a: 1, b: { c: [1, 2] }, d: 'x' }, { a: 1, b: { c: [1, 2] }, gone: null })).toBe(true);
    expect(mergeIsNoop({ a: 1 }, { a: 2 })).toBe(false);
    expect(mergeIsNoop({ a: 1 }, { a: null })).toBe(false);
    expect(mergeIsNoop({ b: { c: [1, 2] } }, { b: { c: [1] } })).toBe(false);
    expect(mergeIsNoop(undefined, { a: 1 })).toBe(false);
  });

  it('puts the built generation, not the current one, in observedGeneration and each condition', () => {
    const current = { apiVersion: 'v1', kind: 'X', metadata: { name: 'a', generation: 5 }, status: {} };
    const patch = statusPatch(current, { generation: 4, verdict: { ready: true, reason: 'Succeeded', message: 'ok' }, results: {}, events: [] }, 't');
    expect(patch.observedGeneration).toBe(4);
    expect((patch.conditions as Array<{ observedGeneration: number }>).every((c) => c.observedGeneration === 4)).toBe(true);
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

  it('reads the last-handled record from status, and from the annotation kustomate 0.1 wrote', () => {
    const inStatus = { ...base, status: { kustomate: { lastHandled: '{"spec":{"a":2}}' } } };
    const legacy = { ...base, metadata: { ...base.metadata, annotations: { 'kustomate.io/last-handled-configuration': '{"spec":{"a":3}}' } } };
    expect(lastHandled(inStatus)?.essence).toEqual({ spec: { a: 2 } });
    expect(lastHandled(legacy)?.essence).toEqual({ spec: { a: 3 } });
    expect(lastHandled(base)).toBeUndefined();
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
