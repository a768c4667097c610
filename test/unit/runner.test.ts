import { describe, expect, it } from 'vitest';
import { createKubectlRunner } from '../../src/kubectl/runner.ts';

// The runner runs whatever binary it is given; node stands in for kubectl so these tests need no cluster.
const node = process.execPath;

describe('kubectl runner', () => {
  it('kills a command at its timeout and reports it as a failure', async () => {
    const run = createKubectlRunner({ binary: node, timeoutMs: 300 });
    const started = Date.now();
    const result = await run(['-e', 'setInterval(() => {}, 1000)']);
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('cancels a command when its signal aborts', async () => {
    const run = createKubectlRunner({ binary: node });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 200);
    const result = await run(['-e', 'setInterval(() => {}, 1000)'], { signal: ctrl.signal });
    expect(result.exitCode).not.toBe(0);
  });

  it('returns a non-zero exit with its stderr, never as success', async () => {
    const run = createKubectlRunner({ binary: node });
    const result = await run(['-e', 'console.error("error: no objects passed to apply"); process.exit(1)']);
    expect(result).toMatchObject({ exitCode: 1, stderr: 'error: no objects passed to apply', timedOut: false });
  });

  it('reports a missing binary as a failure with a message', async () => {
    const run = createKubectlRunner({ binary: '/nonexistent/kubectl' });
    const result = await run(['version']);
    expect(result.exitCode).toBe(-1);
    expect(result.stderr).toMatch(/ENOENT|nonexistent/);
  });

  it('passes the connection arguments first and its environment, and reports each run', async () => {
    const seen: string[][] = [];
    const run = createKubectlRunner({
      binary: node,
      globalArgs: ['-e', 'console.log(JSON.stringify([process.argv.slice(1), process.env.KUBECONFIG]))'],
      env: { KUBECONFIG: '/tmp/kc' },
      onResult: (r) => seen.push(r.command),
    });
    const result = await run(['--', 'apply', '-k', 'dir']);
    expect(JSON.parse(result.stdout)).toEqual([['apply', '-k', 'dir'], '/tmp/kc']);
    expect(result.command.slice(1)).toEqual(['-e', expect.any(String), '--', 'apply', '-k', 'dir']);
    expect(seen).toHaveLength(1);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('runs kubectl with Go collection off up to 64 MiB, unless the environment chose its own settings', async () => {
    const show = ['-e', 'console.log(JSON.stringify([process.env.GOGC ?? null, process.env.GOMEMLIMIT ?? null]))'];
    const saved = { GOGC: process.env.GOGC, GOMEMLIMIT: process.env.GOMEMLIMIT };
    try {
      delete process.env.GOGC;
      delete process.env.GOMEMLIMIT;
      expect(JSON.parse((await createKubectlRunner({ binary: node })(show)).stdout)).toEqual(['off', '64MiB']);
      process.env.GOGC = '150';
      expect(JSON.parse((await createKubectlRunner({ binary: node })(show)).stdout)).toEqual(['150', null]);
      delete process.env.GOGC;
      process.env.GOMEMLIMIT = '1GiB';
      expect(JSON.parse((await createKubectlRunner({ binary: node })(show)).stdout)).toEqual([null, '1GiB']);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
