// Why: the process around the controller: leftover cleanup, health and metrics, leader election, orderly stop.
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { removeLeftoverWorkdirs } from '../kustomize/workdir.ts';
import { Controller, type ControllerOptions } from './controller.ts';
import { startHealthServer, type HealthServer } from './health.ts';
import { LeaderElector, type LeaderElectionOptions } from './leader.ts';
import { Metrics } from './metrics.ts';

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface ManagerOptions extends Omit<ControllerOptions, 'metrics'> {
  metrics?: Metrics;
  /** Serve /healthz, /readyz and /metrics; port 0 picks a free one. */
  health?: { port: number; host: string };
  /** With it, only the holder of the Lease reconciles. */
  leaderElection?: LeaderElectionConfig;
  /** How long a stop waits for running reconciles before cancelling their kubectl runs. */
  gracePeriodMs: number;
  /** Builds each term's controller and the elector (default: the real ones); a test passes stand-ins. */
  createController?: (opts: ControllerOptions) => ManagedController;
  createElector?: (opts: LeaderElectionOptions) => Elector;
}

/** What the manager uses of a controller. */
export type ManagedController = Pick<Controller, 'start' | 'stop' | 'cancelNow' | 'synced'>;
/** What the manager uses of a leader elector. */
export type Elector = Pick<LeaderElector, 'start' | 'stop' | 'isLeader'>;

/**
 * Starts and stops everything one `kustomate run` needs; safe to stop once, from a signal handler. With leader
 * election, a lost lease stops the controller at once (running kubectl cancelled, nothing more written), and a
 * regained lease starts a new one only after that.
 */
export class Manager {
  readonly metrics: Metrics;
  private readonly opts: ManagerOptions;
  private controller?: ManagedController | undefined;
  private elector?: Elector;
  private health?: HealthServer;
  private stopping = false;
  private transitions: Promise<void> = Promise.resolve();
  private readonly stoppingControllers = new Set<ManagedController>();

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.metrics = opts.metrics ?? new Metrics();
  }

  get healthPort(): number | undefined {
    return this.health?.port;
  }

  /**
   * Leadership changes run one after another: a controller starts only once the previous one has fully stopped,
   * so two controllers of this process never reconcile at once.
   */
  private transition(step: () => Promise<void> | void): Promise<void> {
    this.transitions = this.transitions.then(step).catch((err) => this.opts.logger.error({ err }, 'leadership change failed'));
    return this.transitions;
  }

  private startController(): void {
    if (this.stopping || this.controller || (this.elector && !this.elector.isLeader)) return;
    const create = this.opts.createController ?? ((o: ControllerOptions) => new Controller(o));
    this.controller = create({ ...this.opts, metrics: this.metrics });
    this.controller.start();
    this.metrics.leader.set(1);
  }

  /** Stops the controller; `graceMs` 0 cancels running kubectl at once (a lost lease: another leader may start). */
  private async stopController(graceMs: number): Promise<void> {
    const c = this.controller;
    this.controller = undefined;
    this.metrics.leader.set(0);
    if (!c) return;
    this.stoppingControllers.add(c);
    try {
      await c.stop(graceMs);
    } finally {
      this.stoppingControllers.delete(c);
    }
  }

  /** The lease is lost: whatever still runs (also a graceful stop in its grace period) is cancelled now. */
  private lostLease(): void {
    this.controller?.cancelNow();
    for (const c of this.stoppingControllers) c.cancelNow();
    void this.transition(() => this.stopController(0));
  }

  private ready(): boolean {
    if (this.stopping) return false;
    if (this.elector && !this.elector.isLeader) return true; // a standby is ready to take over
    return this.controller?.synced ?? false;
  }

  async start(): Promise<void> {
    const { logger } = this.opts;
    if (!this.opts.keepWorkdirs) {
      const removed = await removeLeftoverWorkdirs();
      if (removed.length) logger.info({ removed }, 'removed work dirs left by a process that died');
    }
    if (this.opts.health) {
      this.health = await startHealthServer({ ...this.opts.health, metrics: this.metrics, live: () => !this.stopping, ready: () => this.ready() });
      logger.info({ port: this.health.port, host: this.opts.health.host }, 'serving /healthz, /readyz and /metrics');
    }
    const le = this.opts.leaderElection;
    if (!le) {
      await this.transition(() => this.startController());
      return;
    }
    const createElector = this.opts.createElector ?? ((o: LeaderElectionOptions) => new LeaderElector(o));
    this.elector = createElector({
      api: this.opts.api,
      ...le,
      identity: le.identity ?? `${os.hostname()}_${process.pid}_${randomBytes(3).toString('hex')}`,
      logger,
      onStartedLeading: () => void this.transition(() => this.startController()),
      onStoppedLeading: () => this.lostLease(),
      // A handler that ignores its abort signal can hold a stopping controller; until it has stopped, this process
      // must not lead again (it could not reconcile) and leaves the lease to the others.
      mayAcquire: () => this.stoppingControllers.size === 0,
    });
    logger.info({ lease: `${le.namespace}/${le.name}` }, 'waiting to become the leader');
    this.elector.start();
  }

  /** Stop taking work, let running kubectl finish (up to the grace period), release the lease, remove work dirs. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const { logger } = this.opts;
    await this.transition(() => this.stopController(this.opts.gracePeriodMs));
    await this.elector?.stop();
    if (!this.opts.keepWorkdirs) {
      const removed = await removeLeftoverWorkdirs({ includeOwn: true });
      if (removed.length) logger.info({ removed }, 'removed this process\'s work dirs');
    }
    await this.health?.close();
  }
}
