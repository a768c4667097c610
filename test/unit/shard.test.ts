import { describe, expect, it } from 'vitest';
import { shardSelector } from '../../src/runtime/shard.ts';

describe('shard selector', () => {
  it('watches everything without a key, unlabelled objects with an empty key, and one shard with a value', () => {
    expect(shardSelector(undefined)).toBeUndefined();
    expect(shardSelector('')).toBe('!kustomate.io/shard');
    expect(shardSelector('team-a.1')).toBe('kustomate.io/shard=team-a.1');
  });

  it('refuses a key that is not a label value', () => {
    for (const bad of ['a b', '-a', 'a-', 'x'.repeat(64), 'a=b', 'a,b']) expect(() => shardSelector(bad)).toThrow(/not a valid label value/);
    expect(shardSelector('x'.repeat(63))).toBe(`kustomate.io/shard=${'x'.repeat(63)}`);
  });
});
