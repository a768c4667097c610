// Why: the process around the controller: leftover cleanup, health and metrics, leader election, orderly stop.
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { removeLeftoverWorkdirs } from '../kustomize/workdir.ts';
import { Controller, type ControllerOptions } from './controller.ts';
import { startHealthServer, type HealthServer } from './health.ts';
import { LeaderElector } from './leader.ts';
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
}

/** Starts and stops everything one `kustomate run` needs; safe to stop once, from a signal handler. */
export class Manager {
  readonly metrics: Metrics;
  private readonly opts: ManagerOptions;
  private controller?: Controller | undefined;
  private elector?: LeaderElector;
  private health?: HealthServer;
  private stopping = false;
  private controllerStopped: Promise<void> = Promise.resolve();

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.metrics = opts.metrics ?? new Metrics();
  }

  get healthPort(): number | undefined {
    return this.health?.port;
  }

  private startController(): void {
    if (this.stopping) return;
    this.controller = new Controller({ ...this.opts, metrics: this.metrics });
    this.controller.start();
    this.metrics.leader.set(1);
  }

  private stopController(): Promise<void> {
    const c = this.controller;
    this.controller = undefined;
    this.metrics.leader.set(0);
    this.controllerStopped = c ? c.stop(this.opts.gracePeriodMs) : Promise.resolve();
    return this.controllerStopped;
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
      this.startController();
      return;
    }
    this.elector = new LeaderElector({
      api: this.opts.api,
      ...le,
      identity: le.identity ?? `${os.hostname()}_${process.pid}_${randomBytes(3).toString('hex')}`,
      logger,
      onStartedLeading: () => this.startController(),
      onStoppedLeading: () => void this.stopController(),
    });
    logger.info({ lease: `${le.namespace}/${le.name}` }, 'waiting to become the leader');
    this.elector.start();
  }

  /** Stop taking work, let running kubectl finish (up to the grace period), release the lease, remove work dirs. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const { logger } = this.opts;
    await this.stopController();
    await this.controllerStopped;
    await this.elector?.stop();
    if (!this.opts.keepWorkdirs) {
      const removed = await removeLeftoverWorkdirs({ includeOwn: true });
      if (removed.length) logger.info({ removed }, 'removed this process\'s work dirs');
    }
    await this.health?.close();
  }
}
