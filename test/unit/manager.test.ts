// The manager's leadership changes with a stand-in elector and controllers, and the leader election options that
// startOperators refuses before it connects.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Api } from '../../src/kube/api.ts';
import type { KubectlRunner } from '../../src/kubectl/runner.ts';
import type { LeaderElectionOptions } from '../../src/runtime/leader.ts';
import { Manager, type Elector, type LeaderElectionConfig, type ManagedController } from '../../src/runtime/manager.ts';
import { namespaceScope } from '../../src/runtime/namespaces.ts';
import { startOperators } from '../../src/start.ts';

/** An elector the test drives: it leads or loses the lease when told, as the real one reports a lease change. */
class FakeElector implements Elector {
  isLeader = false;
  started = false;
  readonly opts: LeaderElectionOptions;
  constructor(opts: LeaderElectionOptions) {
    this.opts = opts;
  }
  start(): void {
    this.started = true;
  }
  async stop(): Promise<void> {
    this.isLeader = false;
  }
  lead(): void {
    this.isLeader = true;
    this.opts.onStartedLeading();
  }
  lose(): void {
    this.isLeader = false;
    this.opts.onStoppedLeading();
  }
}

/** A controller whose stop ends only when the test says (`finishStop`), as one waiting for its kubectl runs would. */
class FakeController implements ManagedController {
  synced = true;
  private finish?: () => void;
  readonly n: number;
  private readonly log: string[];
  constructor(n: number, log: string[]) {
    this.n = n;
    this.log = log;
  }
  start(): void {
    this.log.push(`${this.n} started`);
  }
  cancelNow(): void {
    this.log.push(`${this.n} cancelled`);
  }
  stop(graceMs?: number): Promise<void> {
    this.log.push(`${this.n} stopping (grace ${graceMs})`);
    return new Promise<void>((resolve) => {
      this.finish = () => {
        this.log.push(`${this.n} stopped`);
        resolve();
      };
    });
  }
  finishStop(): void {
    this.finish!();
  }
}

/** Lets every pending promise step run (the manager's changes are chained promises, no timers). */
const settle = () => new Promise((r) => setTimeout(r, 20));

function managed() {
  const log: string[] = [];
  const controllers: FakeController[] = [];
  let elector: FakeElector | undefined;
  const manager = new Manager({
    api: {} as Api,
    kubectl: (async () => {
      throw new Error('no kubectl in this test');
    }) as KubectlRunner,
    operators: [],
    namespaces: namespaceScope([]),
    concurrency: 1,
    basesDir: '/nonexistent',
    keepWorkdirs: true,
    logger: pino({ level: 'silent' }),
    gracePeriodMs: 30_000,
    leaderElection: { namespace: 'ns', name: 'lease', identity: 'me', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
    createController: () => {
      const c = new FakeController(controllers.length + 1, log);
      controllers.push(c);
      return c;
    },
    createElector: (opts) => (elector = new FakeElector(opts)),
  });
  return { manager, log, controllers, elector: () => elector! };
}

describe('manager: losing and regaining the lease', () => {
  it('starts a new controller only once the old one has fully stopped, and starts it then', async () => {
    const { manager, log, controllers, elector } = managed();
    await manager.start();
    expect(elector().started).toBe(true);
    expect(controllers).toHaveLength(0); // a standby runs nothing

    elector().lead();
    await settle();
    expect(log).toEqual(['1 started']);

    elector().lose();
    await settle();
    // A lost lease cancels running kubectl at once and stops with no grace period.
    expect(log).toEqual(['1 started', '1 cancelled', '1 stopping (grace 0)']);
    expect(elector().opts.mayAcquire!(), 'no new term while the last one still runs').toBe(false);

    // The lease comes back (another elector gave it up) while controller 1 still waits for a handler to end.
    elector().lead();
    await settle();
    expect(controllers, 'no second controller while the first is stopping').toHaveLength(1);

    controllers[0]!.finishStop();
    await settle();
    expect(controllers).toHaveLength(2);
    expect(log).toEqual(['1 started', '1 cancelled', '1 stopping (grace 0)', '1 stopped', '2 started']);
    expect(elector().opts.mayAcquire!()).toBe(true);

    const stopped = manager.stop();
    await settle();
    expect(log.at(-1)).toBe('2 stopping (grace 30000)');
    controllers[1]!.finishStop();
    await stopped;
  });

  it('starts nothing when the lease, regained while the old controller stopped, is lost again before it finished', async () => {
    const { manager, log, controllers, elector } = managed();
    await manager.start();
    elector().lead();
    await settle();
    elector().lose();
    await settle();
    elector().lead();
    await settle();
    // Lost again: the controller still stopping is told once more to cancel what runs.
    elector().lose();
    await settle();
    controllers[0]!.finishStop();
    await settle();
    expect(controllers).toHaveLength(1);
    expect(log).toEqual(['1 started', '1 cancelled', '1 stopping (grace 0)', '1 cancelled', '1 stopped']);
    await manager.stop();
  });
});

describe('startOperators: leader election options', () => {
  const le = (more: Partial<LeaderElectionConfig>): LeaderElectionConfig => ({
    namespace: 'ns',
    name: 'lease',
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    ...more,
  });
  // Each is refused before any connection is made: the kubeconfig named here does not exist.
  const start = (leaderElection: LeaderElectionConfig) => startOperators({ operators: [], kubeconfig: '/nonexistent/kubeconfig', leaderElection });

  it('refuses a renew deadline that is not shorter than the lease duration', async () => {
    await expect(start(le({ renewDeadlineMs: 15_000 }))).rejects.toThrow('startOperators: leaderElection: renewDeadlineMs (15000) must be less than leaseDurationMs (15000)');
    await expect(start(le({ renewDeadlineMs: 20_000 }))).rejects.toThrow(/renewDeadlineMs \(20000\) must be less than leaseDurationMs \(15000\)/);
  });

  it('refuses durations that are not positive numbers, naming each', async () => {
    await expect(start(le({ leaseDurationMs: 0 }))).rejects.toThrow(/leaseDurationMs must be a positive number of ms, got 0/);
    await expect(start(le({ renewDeadlineMs: -1 }))).rejects.toThrow(/renewDeadlineMs must be a positive number of ms, got -1/);
    await expect(start(le({ retryPeriodMs: Number.NaN }))).rejects.toThrow(/retryPeriodMs must be a positive number of ms, got NaN/);
    await expect(start(le({ leaseDurationMs: '15000' as unknown as number }))).rejects.toThrow(/leaseDurationMs must be a positive number of ms, got 15000/);
  });

  it('refuses a Lease without a namespace or name', async () => {
    await expect(start(le({ name: '' }))).rejects.toThrow(/name must name the Lease, got ""/);
  });

  it('accepts valid timings, and goes on to connect', async () => {
    await expect(start(le({}))).rejects.toThrow('kubeconfig /nonexistent/kubeconfig does not exist');
  });
});
