// Why: the few Prometheus metric types kustomate exposes, in the text format
// (https://prometheus.io/docs/instrumenting/exposition_formats/), without a client library's memory and start-up.

type Labels = Record<string, string>;

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (labels: Labels, extra: Labels = {}) => {
  const all = Object.entries({ ...labels, ...extra });
  return all.length ? `{${all.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
};
const keyOf = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

interface Metric {
  text(): string;
}

abstract class Base<T> implements Metric {
  protected readonly series = new Map<string, { labels: Labels; value: T }>();
  readonly name: string;
  readonly help: string;
  private readonly type: string;
  constructor(name: string, help: string, type: string) {
    this.name = name;
    this.help = help;
    this.type = type;
  }

  protected at(labels: Labels, init: () => T): { labels: Labels; value: T } {
    const key = keyOf(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: { ...labels }, value: init() }));
    return s;
  }

  protected abstract lines(): string[];

  text(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, ...this.lines()].join('\n');
  }
}

/** A value that only goes up, per label set. */
export class Counter extends Base<number> {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    this.at(labels, () => 0).value += by;
  }
  /** The sum over every label set matching `labels`. */
  total(labels: Labels = {}): number {
    return [...this.series.values()].filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
  }
  protected lines(): string[] {
    return [...this.series.values()].map((s) => `${this.name}${labelText(s.labels)} ${s.value}`);
  }
}

/** A value that goes up and down. */
export class Gauge extends Base<number> {
  /** Read when scraped, instead of the value last set: for state that changes more often than anyone sets it. */
  private read: (() => number) | undefined;
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
    this.set(0);
  }
  set(value: number, labels: Labels = {}): void {
    this.at(labels, () => 0).value = value;
  }
  /** The unlabelled value is read from `read` at each scrape (the latest call wins). */
  readFrom(read: () => number): void {
    this.read = read;
  }
  protected lines(): string[] {
    if (this.read) this.set(this.read());
    return [...this.series.values()].map((s) => `${this.name}${labelText(s.labels)} ${s.value}`);
  }
}

interface Buckets {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram extends Base<Buckets> {
  private readonly buckets: number[];
  constructor(name: string, help: string, buckets: number[]) {
    super(name, help, 'histogram');
    this.buckets = buckets;
  }
  observe(labels: Labels, seconds: number): void {
    const s = this.at(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 })).value;
    this.buckets.forEach((le, i) => {
      if (seconds <= le) s.counts[i]!++;
    });
    s.sum += seconds;
    s.count++;
  }
  /** Starts a timer; calling what it returns observes the seconds since. */
  startTimer(labels: Labels): () => void {
    const started = performance.now();
    return () => this.observe(labels, (performance.now() - started) / 1000);
  }
  protected lines(): string[] {
    return [...this.series.values()].flatMap(({ labels, value }) => [
      ...this.buckets.map((le, i) => `${this.name}_bucket${labelText(labels, { le: String(le) })} ${value.counts[i]}`),
      `${this.name}_bucket${labelText(labels, { le: '+Inf' })} ${value.count}`,
      `${this.name}_sum${labelText(labels)} ${value.sum}`,
      `${this.name}_count${labelText(labels)} ${value.count}`,
    ]);
  }
}

/** The metrics of one process, exposed together. */
export class Registry {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';
  private readonly all: Metric[] = [];
  add<M extends Metric>(metric: M): M {
    this.all.push(metric);
    return metric;
  }
  metrics(): string {
    return `${this.all.map((m) => m.text()).join('\n')}\n`;
  }
}
