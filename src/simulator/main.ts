/**
 * Standalone gateway simulator: `npx tsx src/simulator/main.ts` (configured by SIM_* env vars).
 */
import { simulatorConfigFromEnv } from './config';
import { startSimulator } from './server';

async function main(): Promise<void> {
  const sim = await startSimulator(simulatorConfigFromEnv(process.env));
  console.log(`gateway simulator listening on ${sim.url}`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    // A second signal while closing means "now": skip the graceful path.
    if (stopping) process.exit(1);
    stopping = true;
    sim.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`gateway simulator failed to close after ${signal}:`, err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error('gateway simulator failed to start:', err);
  process.exit(1);
});
