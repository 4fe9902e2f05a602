// `npm run api`: the HTTP façade alone, connecting to TEMPORAL_ADDRESS.
import { loadConfigOrExit } from '../config';
import { startApi } from './services';

async function main() {
  const config = loadConfigOrExit();
  const api = await startApi(config);
  console.log(`batch gateway API listening on ${api.url}/v1 (Temporal at ${config.TEMPORAL_ADDRESS})`);
  const stop = () => void api.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
