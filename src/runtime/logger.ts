// Why: one logger setup: JSON lines (pino) for machines, pretty lines for a terminal; every reconcile adds
// the object's namespace and name.
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type pretty from 'pino-pretty';

// Loaded only for a terminal: an operator in a pod logs JSON and need not hold the pretty-printer in memory.
const loadPretty = (): typeof pretty => createRequire(import.meta.url)('pino-pretty') as typeof pretty;

export type LogFormat = 'json' | 'pretty';

export function createLogger(format: LogFormat = process.stdout.isTTY ? 'pretty' : 'json', level = process.env.KUSTOMATE_LOG_LEVEL ?? 'info'): Logger {
  const options = { level, base: { component: 'kustomate' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'pretty') return pino(options, loadPretty()({ colorize: true, sync: true, ignore: 'component,hostname,pid' }));
  return pino(options);
}
