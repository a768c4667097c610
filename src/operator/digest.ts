// Why: a value that must never reach status (a password in a spec) is recorded as a digest, so a change is still
// seen; the object's uid salts it, so equal passwords of two objects give different digests.
import { createHash } from 'node:crypto';

/** `sha256:<hex>` of the value, salted with the uid of the object that holds it. */
export function secretDigest(uid: string, value: unknown): string {
  return `sha256:${createHash('sha256').update(`${uid}\0${JSON.stringify(value)}`).digest('hex')}`;
}
