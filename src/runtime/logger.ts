// Why: one logger setup: JSON lines (pino) for machines, pretty lines for a terminal; every reconcile adds
// the object's namespace and name.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'json' | 'pretty';

export function createLogger(format: LogFormat = process.stdout.isTTY ? 'pretty' : 'json', level = process.env.KUSTOMATE_LOG_LEVEL ?? 'info'): Logger {
  const options = { level, base: { component: 'kustomate' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'pretty') return pino(options, pretty({ colorize: true, sync: true, ignore: 'component,hostname,pid' }));
  return pino(options);
}
