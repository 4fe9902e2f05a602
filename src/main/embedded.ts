// `npm start`: the whole product in one process tree — Temporal dev server (with Web UI),
// the worker, the API and, when GATEWAY_URL is unset, the bundled gateway simulator.
import { join, resolve } from 'node:path';
import { checkAuthConfig } from '../api/auth/authenticate';
import { ConfigError, loadConfigOrExit } from '../config';
import { probeGateway } from '../gateway/probe';
import { startSimulator } from '../simulator/server';
import { startTracing } from '../observability/tracing';
import { startDevServer } from '../temporal/dev-server';
import { portOf, storageFor } from './services';
import { startApi } from './start-api';
import { startWorker } from './start-worker';

async function main() {
  const config = loadConfigOrExit();
  // Before the worker and the API are built: they take their tracing hooks at creation.
  const tracing = startTracing('batch-gateway', config);
  // Before anything starts: contradicting auth settings, a bad keys file, an exposed HOST without auth.
  await checkAuthConfig(config);
  const store = storageFor(config);
  const temporal = await startDevServer({
    port: portOf(config.TEMPORAL_ADDRESS),
    uiPort: config.TEMPORAL_UI_PORT,
    namespace: config.TEMPORAL_NAMESPACE,
    dbFile: join(resolve(config.DATA_DIR), 'temporal.db'),
    log: (l) => {
      if (/error|fatal/i.test(l)) process.stderr.write(l);
    },
  });

  let gatewayUrl = config.GATEWAY_URL;
  let simulator: Awaited<ReturnType<typeof startSimulator>> | null = null;
  if (!gatewayUrl) {
    simulator = await startSimulator({
      port: Number(process.env.SIM_PORT ?? 8090),
      latencyMs: 50,
      jitterMs: 50,
    });
    gatewayUrl = simulator.url;
  }
  const worker = await startWorker(config, gatewayUrl, store);
  const api = await startApi(config, store);

  const line = '─'.repeat(72);
  console.log(line);
  console.log(`  Batch gateway API    ${api.url}/v1   (OpenAI base URL)`);
  console.log(`  Temporal Web UI      ${temporal.uiUrl}`);
  console.log(`  Batch console        ${api.url}/console`);
  console.log(`  Temporal frontend    ${temporal.address}  namespace '${config.TEMPORAL_NAMESPACE}'`);
  console.log(`  Data directory       ${resolve(config.DATA_DIR)}`);
  console.log(
    `  Storage              ${config.STORAGE_URL ?? join(resolve(config.DATA_DIR), 'storage')}` +
      (config.STORAGE_URL && config.AWS_ENDPOINT_URL ? ` at ${config.AWS_ENDPOINT_URL}` : ''),
  );
  console.log(`  Authentication       ${api.authLine}`);
  if (simulator) {
    console.log(`  Gateway              ${gatewayUrl}  ← BUNDLED SIMULATOR (GATEWAY_URL is not set)`);
    console.log(
      '                       Answers are fake. Set GATEWAY_URL and GATEWAY_API_KEY for a real gateway.',
    );
  } else {
    console.log(`  Gateway              ${gatewayUrl}`);
  }
  console.log(line);
  // One line on whether the configured gateway answers (never fatal: it may come up later).
  if (!simulator)
    void probeGateway(gatewayUrl, config.GATEWAY_API_KEY).then((p) =>
      (p.ok ? console.log : console.error)(p.line),
    );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('shutting down…');
    await api.close();
    await worker.close();
    await simulator?.close();
    await temporal.stop();
    await tracing?.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  await worker.running;
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
