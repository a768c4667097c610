// Why: several operator processes split the custom resources between them by a label, each with its own watch.
// Flux shards its controllers the same way: https://fluxcd.io/flux/installation/configuration/sharding/

/** The label that assigns a custom resource to the replica started with the same --shard-key. */
export const SHARD_LABEL = 'kustomate.io/shard';

// A label value: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/**
 * The label selector for a shard: undefined (no --shard-key) watches every object; '' only those without the
 * label (the main replica of a sharded install); a value only the objects labelled with it.
 */
export function shardSelector(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (!LABEL_VALUE.test(key)) throw new Error(`--shard-key ${JSON.stringify(key)} is not a valid label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)`);
  return key === '' ? `!${SHARD_LABEL}` : `${SHARD_LABEL}=${key}`;
}
