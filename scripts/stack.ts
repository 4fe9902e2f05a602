// `npm run stack`: the production-shaped stack on this machine (Temporal on PostgreSQL, Web UI, versitygw, 3 workers, 2 APIs) until Ctrl-C.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simulatorConfigFromEnv } from '../src/simulator/config';
import { startVersitygw } from '../src/storage/versitygw';
import { findTool } from '../src/temporal/cli-path';
import { freePort } from '../test/harness/ports';
import { startScaleOutStack } from '../test/harness/scale-out-stack';
import type { TemporalCluster } from '../test/harness/temporal-cluster';

const int = (name: string, def: number) => {
  const v = Number(process.env[name] ?? def);
  if (!Number.isInteger(v) || v < 0)
    throw new Error(`${name} must be a whole number, got ${process.env[name]}`);
  return v;
};

/** The Temporal Web UI server (temporalio/ui-server, the one the CLI embeds) in front of the cluster's frontend. */
async function startWebUi(cluster: TemporalCluster, dir: string, port: number) {
  const bin = findTool('temporal-ui-server', process.env.TEMPORAL_UI_SERVER_PATH);
  if (!bin) return null;
  mkdirSync(join(dir, 'config'), { recursive: true });
  const e = cluster.env;
  const config = {
    temporalGrpcAddress: cluster.address,
    host: '127.0.0.1',
    port,
    enableUi: true,
    defaultNamespace: cluster.namespace,
    cors: { cookieInsecure: true, allowOrigins: [`http://127.0.0.1:${port}`] },
    tls: {
      caFile: e.TEMPORAL_TLS_CA ?? '',
      certFile: e.TEMPORAL_TLS_CERT ?? '',
      keyFile: e.TEMPORAL_TLS_KEY ?? '',
      serverName: e.TEMPORAL_TLS_SERVER_NAME ?? '',
      enableHostVerification: !!e.TEMPORAL_TLS_CA,
    },
  };
  // YAML is a superset of JSON.
  writeFileSync(join(dir, 'config', 'stack.yaml'), JSON.stringify(config, null, 2));
  const child = spawn(bin, ['--root', dir, '--config', 'config', '--env', 'stack', 'start'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`the Web UI server exited with ${child.exitCode}`);
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}

async function main() {
  const workers = int('STACK_WORKERS', 3);
  const apis = Math.max(1, int('STACK_APIS', 2));
  const tls = (process.env.STACK_TLS ?? 'mtls') as 'none' | 'tls' | 'mtls';
  if (!['none', 'tls', 'mtls'].includes(tls))
    throw new Error(`STACK_TLS must be none, tls or mtls, got ${tls}`);
  const apiPort = int('PORT', 8080);
  const gatewayUrl = process.env.GATEWAY_URL || undefined;

  const dir = mkdtempSync(join(tmpdir(), 'batchgw-stack-'));
  const s3 = await startVersitygw({ port: await freePort(), dir: join(dir, 's3') });
  const cleanUp = async () => {
    await s3.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const bucket = 'batch-gateway';
  await s3.createBucket(bucket);
  console.log('starting PostgreSQL, the Temporal server, and the workers and APIs …');
  const stack = await startScaleOutStack({
    workers,
    apis,
    tls,
    s3: { endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, bucket },
    gatewayUrl,
    sim: { ...simulatorConfigFromEnv(process.env), port: int('SIM_PORT', 8090) },
    apiPorts: Array.from({ length: apis }, (_, i) => apiPort + i),
    // Compiled, as deployed: `npm run stack` builds first (its prestack script).
    compiled: true,
    // The processes' own settings from this environment (GLOBAL_CONCURRENCY, LOG_LEVEL …) win.
    env: {
      GLOBAL_CONCURRENCY: process.env.GLOBAL_CONCURRENCY ?? '30',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    },
    onOutput: (name, line) => console.log(`[${name}] ${line}`),
  }).catch(async (err: unknown) => {
    await cleanUp();
    throw err;
  });
  const ui = await startWebUi(stack.cluster, join(dir, 'ui'), int('TEMPORAL_UI_PORT', 8233));

  const e = stack.env;
  const pad = (s: string) => s.padEnd(22);
  console.log('');
  stack.apis.forEach((a, i) =>
    console.log(`  ${pad(`Batch gateway API #${i + 1}`)}${a.url}/v1   (OpenAI base URL)`),
  );
  console.log(
    ui
      ? `  ${pad('Temporal Web UI')}${ui.url}`
      : `  ${pad('Temporal Web UI')}not running: go install github.com/temporalio/ui-server/v2/cmd/server@v2.42.1, then copy the binary to ~/.cache/temporal-batch-gateway/bin/temporal-ui-server or set TEMPORAL_UI_SERVER_PATH`,
  );
  console.log(
    `  ${pad('Temporal server')}${stack.cluster.address}  (1.29.1 on PostgreSQL, ${tls === 'none' ? 'plaintext' : tls === 'tls' ? 'TLS' : 'mTLS'}, namespace ${stack.cluster.namespace})`,
  );
  console.log(
    `  ${pad('Workers')}${stack.workers.length} on task queue ${stack.taskQueue}, GLOBAL_CONCURRENCY ${e.GLOBAL_CONCURRENCY}`,
  );
  console.log(`  ${pad('S3 (versitygw)')}${s3.endpoint}  ${e.STORAGE_URL}`);
  console.log(
    `  ${pad('Gateway')}${stack.gatewayUrl}${stack.sim ? '  ← BUNDLED SIMULATOR (GATEWAY_URL is not set)' : ''}`,
  );
  console.log('');
  console.log('  the temporal CLI, with these settings:');
  for (const [k, v] of Object.entries(stack.cluster.env)) console.log(`    export ${k}=${v}`);
  console.log('\n  Ctrl-C stops everything (all state is in a temporary folder and is removed).');

  let stopping = false;
  const stop = async () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log('\nstopping …');
    await ui?.stop();
    await stack.close();
    await cleanUp();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
