// `npm run api`: the HTTP façade alone, connecting to TEMPORAL_ADDRESS.
import { ConfigError, loadConfigOrExit } from '../config';
import { startApi } from './services';

async function main() {
  const config = loadConfigOrExit();
  const api = await startApi(config);
  console.log(`batch gateway API listening on ${api.url}/v1 (Temporal at ${config.TEMPORAL_ADDRESS})`);
  console.log(`authentication: ${api.authLine}`);
  const stop = () => void api.close().then(() => process.exit(0));
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
