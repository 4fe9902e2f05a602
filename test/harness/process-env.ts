// The environment our worker and API processes get in a test stack (no vitest import: scripts use it too).
import { randomBytes } from 'node:crypto';

/** The settings every test stack gives its workers and APIs; `extra` adds or overrides. */
export function processEnv(
  p: { temporalAddress: string; dataDir: string; gatewayUrl: string; apiPort: number; taskQueue?: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: p.temporalAddress,
    TEMPORAL_TASK_QUEUE: p.taskQueue ?? `procs-${randomBytes(6).toString('hex')}`,
    DATA_DIR: p.dataDir,
    GATEWAY_URL: p.gatewayUrl,
    PORT: String(p.apiPort),
    // Fast retries: the tests' simulated faults should not wait out production backoffs.
    RETRY_BASE_MS: '20',
    RETRY_MAX_MS: '200',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** Where an S3-compatible server is and how to sign in (the run's versitygw, or one a script started). */
export interface S3Endpoint {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

/** The environment of a process storing everything under `prefix` of the endpoint's bucket. */
export function s3EnvOf(
  s3: S3Endpoint,
  prefix = `t-${randomBytes(6).toString('hex')}`,
): Record<string, string> {
  return {
    STORAGE_URL: `s3://${s3.bucket}/${prefix}`,
    AWS_ENDPOINT_URL: s3.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
}
