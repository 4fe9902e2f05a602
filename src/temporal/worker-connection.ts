// A worker's connection to Temporal, checked at start: reachable with its TLS settings and API key, and its namespace answers.
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';
import { explainConnectError, temporalConnectionOptions, type TemporalConnectionConfig } from './connection';

/**
 * Connects and describes TEMPORAL_NAMESPACE, so a refused certificate, a key without permission
 * or a namespace that does not exist is one ConfigError line now rather than a worker whose
 * polls fail later (the server answers GetSystemInfo, the SDK's own check, to anyone).
 */
export async function connectWorker(
  config: TemporalConnectionConfig & Pick<Config, 'TEMPORAL_NAMESPACE'>,
): Promise<NativeConnection> {
  const options = temporalConnectionOptions(config);
  let connection: NativeConnection | undefined;
  try {
    connection = await NativeConnection.connect(options);
    await connection.workflowService.describeNamespace({ namespace: config.TEMPORAL_NAMESPACE });
    return connection;
  } catch (err) {
    await connection?.close().catch(() => undefined);
    throw explainConnectError(err, options, config.TEMPORAL_NAMESPACE);
  }
}
