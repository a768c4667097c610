// kubectl's own words, with Secret values taken out before they can reach status, Events or logs.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCRUBBED, scrub } from '../../src/kubectl/scrub.ts';

describe('scrubbing kubectl output', () => {
  it('takes the Secret data and the last-applied annotation out of a real kubectl apply error, keeping the rest', () => {
    // Captured from kubectl 1.36: a client-side apply of a Secret by a ServiceAccount that may not patch it.
    const real = fs.readFileSync(new URL('./fixtures/kubectl-apply-forbidden-secret.txt', import.meta.url), 'utf8');
    const secret = 'aHVudGVyMi1UT1BTRUNSRVQtTkVX'; // base64 of the password in that error
    expect(real).toContain(secret);
    const out = scrub(real);
    expect(out).not.toContain(secret);
    expect(out).not.toContain('hunter2');
    expect(out).toContain(`{"data":{"password":"${SCRUBBED}"}`);
    expect(out).toContain(`"kubectl.kubernetes.io/last-applied-configuration":"${SCRUBBED}"`);
    expect(out).toContain('secrets "creds" is forbidden: User "system:serviceaccount:se-exp5:reader" cannot patch resource "secrets"');
  });

  it('scrubs escaped JSON and YAML forms too, and leaves text without secrets as it is', () => {
    expect(scrub(String.raw`{\"data\":{\"token\":\"c2VjcmV0\"}}`)).toBe(String.raw`{\"data\":{\"token\":\"${SCRUBBED}\"}}`);
    const yaml = 'apiVersion: v1\nkind: Secret\nstringData:\n  password: hunter2\n  user: root\nmetadata:\n  name: x\n';
    expect(scrub(yaml)).toBe(`apiVersion: v1\nkind: Secret\nstringData:\n  password: ${SCRUBBED}\n  user: ${SCRUBBED}\nmetadata:\n  name: x\n`);
    const plain = 'deployment.apps/web serverside-applied\nThe Service "db" is invalid: spec.ports[0].port: Invalid value: 99999';
    expect(scrub(plain)).toBe(plain);
  });
});
