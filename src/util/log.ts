// pgwarden's logs: JSON lines (pino). Secrets never go in: code passes none, and the
// redaction below is the second line of defence for fields that could carry one.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'secret',
  '*.secret',
  'clientSecret',
  '*.clientSecret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

export interface LogOptions {
  /** JSON log file (everything at `level` and above). */
  file?: string;
  /** Minimum level written (default info). */
  level?: string;
  /** Minimum level also written to stderr (default warn); 'silent' for none. */
  stderrLevel?: string;
}

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? 'info';
  const streams: pino.StreamEntry[] = [];
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    // The logger's level decides what goes in (a reload changes it); the file takes all of that.
    streams.push({ level: 'trace', stream: pino.destination({ dest: options.file, mkdir: true, sync: false }) });
  }
  const stderrLevel = options.stderrLevel ?? 'warn';
  if (stderrLevel !== 'silent') streams.push({ level: stderrLevel as pino.Level, stream: pino.destination({ fd: 2, sync: true }) });
  return pino(
    { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream(streams),
  );
}

/** A logger that drops everything (tests that do not read logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
