// Why: one logger setup: JSON lines (pino) with the object's namespace/name added by each reconcile.
import { pino, type Logger } from 'pino';

export function createLogger(level = process.env.KUSTOMATE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { component: 'kustomate' }, timestamp: pino.stdTimeFunctions.isoTime });
}
