// `npm run temporal`: the Temporal dev server alone, with state in DATA_DIR and every search attribute registered.
import { join, resolve } from 'node:path';
import { loadConfigOrExit } from '../config';
import { startDevServer } from '../temporal/dev-server';
import { portOf } from './services';

async function main() {
  const config = loadConfigOrExit();
  const server = await startDevServer({
    port: portOf(config.TEMPORAL_ADDRESS),
    uiPort: config.TEMPORAL_UI_PORT,
    namespace: config.TEMPORAL_NAMESPACE,
    dbFile: join(resolve(config.DATA_DIR), 'temporal.db'),
    log: (l) => process.stderr.write(l),
  });
  console.log(`Temporal dev server at ${server.address}; Web UI at ${server.uiUrl}`);
  const stop = () => void server.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
