// Why: the benchmarks read kustomate's own counters (reconciles, kubectl runs) from its /metrics, one way.

/** Sum of one counter over all its labels, from the Prometheus text kustomate serves at http://127.0.0.1:PORT/metrics. */
export async function counterSum(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
}
