// Why: when each timer last ran for each object, in memory, so a reconcile knows which timers are due.
import type { KubeObject } from '../kube/api.ts';
import type { RegisteredTimer } from '../operator/operator.ts';

export class TimerClock {
  private readonly runs = new Map<string, Map<string, number>>();

  /**
   * The timers due for this object now, the ms until the next one is due after them, and the ids of timers whose
   * interval (a function of the object) is not a number of ms ≥ 1: those never run, rather than run in a hot loop.
   */
  due(obj: KubeObject, timers: RegisteredTimer[], now: number): { due: RegisteredTimer[]; nextMs: number | undefined; invalid: string[] } {
    const last = this.runs.get(obj.metadata.uid ?? '');
    const due: RegisteredTimer[] = [];
    const invalid: string[] = [];
    let nextMs: number | undefined;
    for (const timer of timers) {
      const interval = typeof timer.intervalMs === 'function' ? timer.intervalMs(obj as never) : timer.intervalMs;
      if (!Number.isFinite(interval) || interval < 1) {
        invalid.push(timer.id);
        continue;
      }
      const wait = (last?.get(timer.id) ?? -Infinity) + interval - now;
      if (wait <= 0) due.push(timer);
      const next = wait > 0 ? wait : interval;
      nextMs = nextMs === undefined ? next : Math.min(nextMs, next);
    }
    return { due, nextMs, invalid };
  }

  ran(uid: string, id: string, now: number): void {
    const last = this.runs.get(uid) ?? new Map<string, number>();
    last.set(id, now);
    this.runs.set(uid, last);
  }

  /** The object is gone: nothing of it stays in memory. */
  forget(uid: string): void {
    this.runs.delete(uid);
  }
}
