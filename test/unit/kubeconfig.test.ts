import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { clusterAccess, inClusterAccess } from '../../src/kube/credentials.ts';
import { KubeconfigError, loadKubeconfig } from '../../src/kube/kubeconfig.ts';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomate-kc-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function write(name: string, content: unknown): Promise<string> {
  const file = path.join(dir, name);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, typeof content === 'string' ? content : stringify(content), { mode: 0o700 });
  return file;
}

const config = (over: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [], ...over });

describe('kubeconfig files', () => {
  it('merges files as kubectl does: the first current-context and the first definition of a name win', async () => {
    const a = await write('merge/a', config({
      clusters: [{ name: 'c', cluster: { server: 'https://first:6443' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      users: [{ name: 'u', user: { token: 'from-a' } }],
    }));
    const b = await write('merge/b', config({
      'current-context': 'y',
      clusters: [{ name: 'c', cluster: { server: 'https://second:6443' } }, { name: 'd', cluster: { server: 'https://d:6443' } }],
      contexts: [{ name: 'x', context: { cluster: 'd', user: 'u' } }, { name: 'y', context: { cluster: 'd' } }],
      users: [{ name: 'u', user: { token: 'from-b' } }],
    }));
    const kc = loadKubeconfig([a, b]);
    expect(kc.currentContext).toBe('y');
    expect(kc.contexts).toEqual(['x', 'y']);
    const x = kc.resolve('x');
    expect(x.cluster.server).toBe('https://first:6443');
    expect(x.user.token).toBe('from-a');
    expect(kc.resolve('y').user).toEqual({});
  });

  it('reads certificate files relative to the kubeconfig, and base64 data fields', async () => {
    await write('rel/pki/ca.crt', 'CA PEM');
    const file = await write('rel/config', config({
      clusters: [{ name: 'c', cluster: { server: 'https://h:6443', 'certificate-authority': 'pki/ca.crt', 'tls-server-name': 'api.local' } }],
      users: [{ name: 'u', user: { 'client-certificate-data': Buffer.from('CERT').toString('base64'), 'client-key-data': Buffer.from('KEY').toString('base64'), tokenFile: 'pki/token' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    }));
    const { cluster, user } = loadKubeconfig([file]).resolve('x');
    expect(cluster).toMatchObject({ ca: 'CA PEM', tlsServerName: 'api.local', insecureSkipTlsVerify: false });
    expect(user).toMatchObject({ cert: 'CERT', key: 'KEY', tokenFile: path.join(dir, 'rel/pki/token') });
  });

  it('names what is missing or unsupported, and ignores broken entries no context uses', async () => {
    const file = await write('bad/config', config({
      clusters: [{ name: 'c', cluster: { server: 'https://h:6443' } }, { name: 'broken', cluster: { 'certificate-authority': '/nope' } }],
      users: [{ name: 'gcp', user: { 'auth-provider': { name: 'gcp' } } }],
      contexts: [
        { name: 'ok', context: { cluster: 'c' } },
        { name: 'no-cluster', context: { cluster: 'gone' } },
        { name: 'no-user', context: { cluster: 'c', user: 'gone' } },
        { name: 'provider', context: { cluster: 'c', user: 'gcp' } },
        { name: 'broken', context: { cluster: 'broken' } },
      ],
    }));
    const kc = loadKubeconfig([file]);
    expect(kc.resolve('ok').cluster.server).toBe('https://h:6443');
    expect(() => kc.resolve('no-cluster')).toThrow(/cluster "gone", which is not defined/);
    expect(() => kc.resolve('no-user')).toThrow(/user "gone", which is not defined/);
    expect(() => kc.resolve('provider')).toThrow(/auth-provider; use a client-go credential plugin/);
    expect(() => kc.resolve('broken')).toThrow(KubeconfigError);
    const unreadable = await write('bad/yaml', 'a: [b');
    expect(() => loadKubeconfig([unreadable])).toThrow(/cannot read kubeconfig/);
  });
});

describe('credentials', () => {
  it('sends a static token, or basic auth', async () => {
    expect(await clusterAccess({ server: 'https://h/' }, { token: 't' }).headers()).toEqual({ authorization: 'Bearer t' });
    expect(await clusterAccess({ server: 'https://h' }, { username: 'a', password: 'b' }).headers()).toEqual({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` });
    expect(clusterAccess({ server: 'https://h/' }, {}).server).toBe('https://h');
  });

  it('runs a credential plugin once, with its env and KUBERNETES_EXEC_INFO, until the token is about to expire', async () => {
    const log = path.join(dir, 'plugin.log');
    const script = await write('plugin.mjs', [
      '#!/usr/bin/env node',
      "import fs from 'node:fs';",
      "const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);",
      `fs.appendFileSync(${JSON.stringify(log)}, info.kind + ' ' + process.env.GREETING + '\\n');`,
      'const n = fs.readFileSync(' + JSON.stringify(log) + ", 'utf8').trim().split('\\n').length;",
      "const expires = process.argv[2] === 'short' ? new Date(Date.now() + 5000) : new Date(Date.now() + 3600e3);",
      "console.log(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential', status: { token: 'tok-' + n, expirationTimestamp: expires.toISOString() } }));",
    ].join('\n'));
    const exec = (arg: string) => ({ command: process.execPath, args: [script, arg], env: { GREETING: 'hi' }, apiVersion: 'client.authentication.k8s.io/v1', dir });
    const long = clusterAccess({ server: 'https://h' }, { exec: exec('long') });
    expect(await long.headers()).toEqual({ authorization: 'Bearer tok-1' });
    expect(await long.headers()).toEqual({ authorization: 'Bearer tok-1' });
    long.invalidate();
    expect(await long.headers()).toEqual({ authorization: 'Bearer tok-2' });
    // A token that expires within seconds is fetched again on each use.
    const short = clusterAccess({ server: 'https://h' }, { exec: exec('short') });
    expect(await short.headers()).toEqual({ authorization: 'Bearer tok-4' });
    expect((await fs.readFile(log, 'utf8')).trim().split('\n')).toEqual(['ExecCredential hi', 'ExecCredential hi', 'ExecCredential hi', 'ExecCredential hi']);
  });

  it('says which plugin failed, and tries again on the next request', async () => {
    const flag = path.join(dir, 'plugin-ok');
    const script = await write('failing.mjs', [
      "import fs from 'node:fs';",
      `if (!fs.existsSync(${JSON.stringify(flag)})) { console.error('not logged in'); process.exit(3); }`,
      "console.log(JSON.stringify({ kind: 'ExecCredential', status: { token: 'late' } }));",
    ].join('\n'));
    const access = clusterAccess({ server: 'https://h' }, { exec: { command: process.execPath, args: [script], env: {}, apiVersion: 'client.authentication.k8s.io/v1', dir } });
    await expect(access.headers()).rejects.toThrow(/exited 3: not logged in/);
    await fs.writeFile(flag, '');
    expect(await access.headers()).toEqual({ authorization: 'Bearer late' });
  });

  it('reads the pod service account token again after it rotates', async () => {
    const sa = path.join(dir, 'sa');
    await write('sa/token', 'first\n');
    await write('sa/ca.crt', 'CLUSTER CA');
    const access = inClusterAccess({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, sa);
    expect(access.server).toBe('https://[fd00::1]:443');
    expect(await access.headers()).toEqual({ authorization: 'Bearer first' });
    await write('sa/token', 'second\n');
    // Within a minute the read token is reused; a 401 makes the next request read the file again.
    expect(await access.headers()).toEqual({ authorization: 'Bearer first' });
    access.invalidate();
    expect(await access.headers()).toEqual({ authorization: 'Bearer second' });
  });
});
