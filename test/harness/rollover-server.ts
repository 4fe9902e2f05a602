import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { freePort } from './ports';

/**
 * A Temporal dev server of a test file's own that suggests continue-as-new after `events` history
 * events, so a modest batch exercises what a huge one does: per-model children roll over often.
 */
export async function startRolloverServer(events = 60): Promise<DevServer> {
  return startDevServer({
    port: await freePort(),
    uiPort: 0,
    headless: true,
    namespace: 'default',
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': events },
  });
}
