// The worker process's Temporal SDK Runtime: its logs through our pino logger, its metrics on a loopback exporter merged into METRICS_PORT.
import { Runtime } from '@temporalio/worker';
import type { Config } from '../config';
import { TemporalPinoLogger, type Logger } from './logger';
import { freeLoopbackPort } from './metrics-server';

/**
 * Installs the SDK Runtime once per process (before any connection or worker). With METRICS_PORT
 * set, the SDK's own Prometheus exporter (temporal_* series: workflow task and activity latencies,
 * schedule-to-start, pollers, slots, sticky cache…) listens on a free loopback port, and the URL it
 * scrapes at is returned for the metrics server to merge; counters end in _total, durations are in
 * seconds with the unit in the name. Without METRICS_PORT: no exporter, null.
 */
export async function installWorkerRuntime(
  config: Pick<Config, 'METRICS_PORT'>,
  logger: Logger,
): Promise<string | null> {
  const port = config.METRICS_PORT === undefined ? null : await freeLoopbackPort();
  Runtime.install({
    logger: new TemporalPinoLogger(logger, 'WARN'),
    ...(port === null
      ? {}
      : {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress: `127.0.0.1:${port}`,
                countersTotalSuffix: true,
                unitSuffix: true,
                useSecondsForDurations: true,
              },
            },
          },
        }),
  });
  return port === null ? null : `http://127.0.0.1:${port}/metrics`;
}
