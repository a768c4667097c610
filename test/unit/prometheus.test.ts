// The Prometheus text registry: a gauge that reads its value when scraped.
import { describe, expect, it } from 'vitest';
import { Gauge, Registry } from '../../src/runtime/prometheus.ts';

describe('prometheus gauges', () => {
  it('reads a gauge given a source at each scrape, so it never shows a value gone stale since it was last set', () => {
    const registry = new Registry();
    const gauge = registry.add(new Gauge('queue_running', 'Reconciles running now.'));
    let running = 3;
    gauge.readFrom(() => running);
    expect(registry.metrics()).toContain('\nqueue_running 3\n');
    running = 0;
    expect(registry.metrics()).toContain('\nqueue_running 0\n');
    // A later source replaces the first (a new controller after a leadership change).
    gauge.readFrom(() => 7);
    expect(registry.metrics()).toContain('\nqueue_running 7\n');
  });
});
