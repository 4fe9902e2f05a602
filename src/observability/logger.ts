// The worker's structured logs: pino JSON lines on stdout at LOG_LEVEL, and the Temporal SDK's Runtime logger routed through them.
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config';

export type { Logger };

export interface LoggerOptions {
  /** Fields merged into every line (pino's `mixin`): the tracing adds `trace_id` / `span_id` this way. */
  mixin?: () => Record<string, unknown>;
  /** Where lines go (tests capture them); default stdout. */
  destination?: DestinationStream;
  /** `component` of every line; default `worker`. */
  component?: string;
}

/**
 * A pino logger at LOG_LEVEL writing one JSON object per line. Secrets never reach it by design:
 * callers log ids, statuses and counts, never bodies, keys or headers; `redact` is a second guard
 * for fields that must never appear even if an error object carries them.
 */
export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, opts: LoggerOptions = {}): Logger {
  const options = {
    level: config.LOG_LEVEL,
    base: { component: opts.component ?? 'worker' },
    ...(opts.mixin ? { mixin: opts.mixin } : {}),
    // Errors under either name as message, type and stack (the SDK passes `error`).
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    redact: {
      paths: [
        'headers',
        '*.headers',
        'authorization',
        '*.authorization',
        'body',
        '*.body',
        'apiKey',
        '*.apiKey',
      ],
      censor: '[redacted]',
    },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

const RANK: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };

/**
 * The Temporal SDK's Runtime logger (core, worker and activity/workflow context logs) as lines of
 * `logger`, from `minLevel` up (WARN: the SDK's info lines are per task, too many for a batch).
 */
export class TemporalPinoLogger implements TemporalLogger {
  private readonly logger: Logger;

  constructor(
    parent: Logger,
    private readonly minLevel: LogLevel = 'WARN',
  ) {
    this.logger = parent.child({ source: 'temporal-sdk' });
  }

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (RANK[level] < RANK[this.minLevel]) return;
    const fields = meta ?? {};
    if (level === 'ERROR') this.logger.error(fields, message);
    else if (level === 'WARN') this.logger.warn(fields, message);
    else if (level === 'INFO') this.logger.info(fields, message);
    else if (level === 'DEBUG') this.logger.debug(fields, message);
    else this.logger.trace(fields, message);
  }

  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
