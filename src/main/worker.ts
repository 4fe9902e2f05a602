// `npm run worker`: a worker process, connecting to TEMPORAL_ADDRESS. Run as many as you like.
import { ConfigError, loadConfigOrExit } from '../config';
import { probeGateway } from '../gateway/probe';
import { startTracing } from '../observability/tracing';
import { describeTemporalConnection, temporalConnectionOptions } from '../temporal/connection';
import { startWorker } from './start-worker';

async function main() {
  const config = loadConfigOrExit();
  // Before the worker is built: it takes its tracing interceptors and sink at creation.
  const tracing = startTracing('batch-gateway-worker', config);
  if (!config.GATEWAY_URL) {
    console.error(
      'GATEWAY_URL is required for a standalone worker (npm start runs the bundled simulator for you).',
    );
    process.exit(2);
  }
  // Never fatal: the gateway may come up after the worker. Runs while the workflow code bundles.
  const probe = probeGateway(config.GATEWAY_URL, config.GATEWAY_API_KEY).then((p) =>
    (p.ok ? console.log : console.error)(p.line),
  );
  const worker = await startWorker(config, config.GATEWAY_URL);
  await probe;
  console.log(
    `batch worker polling task queue '${config.TEMPORAL_TASK_QUEUE}' on ${describeTemporalConnection(temporalConnectionOptions(config))} namespace '${config.TEMPORAL_NAMESPACE}'; gateway ${config.GATEWAY_URL}; workflow bundle ${worker.bundle}`,
  );
  await worker.running;
  await worker.runtime.gateway.close();
  await tracing?.shutdown();
}

main().catch((err) => {
  // A bad setting (e.g. a storage bucket that does not exist) is one line, as at loadConfig.
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
