// `npm run api`: the HTTP façade alone, connecting to TEMPORAL_ADDRESS.
import { ConfigError, loadConfigOrExit } from '../config';
import { startTracing } from '../observability/tracing';
import { describeTemporalConnection, temporalConnectionOptions } from '../temporal/connection';
import { startApi } from './start-api';

async function main() {
  const config = loadConfigOrExit();
  // Before the server and its Temporal client are built: they take their tracing hooks at creation.
  const tracing = startTracing('batch-gateway-api', config);
  const api = await startApi(config);
  const temporal = describeTemporalConnection(temporalConnectionOptions(config));
  console.log(
    `batch gateway API listening on ${api.url}/v1 (Temporal at ${temporal} namespace '${config.TEMPORAL_NAMESPACE}')`,
  );
  console.log(`authentication: ${api.authLine}`);
  const stop = () =>
    void api
      .close()
      .then(() => tracing?.shutdown())
      .then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  // A bad setting (auth, keys file, an exposed HOST without auth) is one line, as at loadConfig.
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
