// The worker's METRICS_PORT server: /metrics (ours, then the Temporal SDK's exporter's) and /health.
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { metricsText } from './metrics';

export interface MetricsServerOptions {
  port: number;
  host: string;
  /** 200 while true (the worker runs), else 503: a container's health check. */
  healthy: () => { ok: boolean; state: string };
  /**
   * The Temporal SDK's Prometheus exporter (core's, on loopback): its text is appended to ours, so
   * one scrape gets both. Unset or unreachable: ours alone (plus a comment saying why).
   */
  temporalMetricsUrl?: string;
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464 */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A scrape never waits longer than this for the SDK's exporter. */
const SDK_TIMEOUT_MS = 2_000;

/** Starts the server; resolves once it listens (a port in use rejects). */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/health') {
      const h = opts.healthy();
      res
        .writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: h.ok ? 'ok' : 'not_running', worker: h.state }));
    } else if (path === '/metrics') {
      void scrape(opts.temporalMetricsUrl).then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        (err: unknown) => res.writeHead(500).end(`metrics failed: ${(err as Error).message}\n`),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /metrics, /health\n');
    }
  });
  server.listen(opts.port, opts.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => Promise.reject(err as Error)),
  ]);
  const port = (server.address() as AddressInfo).port;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

async function scrape(sdkUrl: string | undefined): Promise<{ contentType: string; body: string }> {
  const ours = await metricsText();
  if (!sdkUrl) return ours;
  let sdk: string;
  try {
    const res = await fetch(sdkUrl, { signal: AbortSignal.timeout(SDK_TIMEOUT_MS) });
    sdk = res.ok ? await res.text() : `# Temporal SDK metrics: the exporter answered ${res.status}\n`;
  } catch (err) {
    sdk = `# Temporal SDK metrics unavailable: ${(err as Error).message}\n`;
  }
  const sep = ours.body.endsWith('\n') ? '' : '\n';
  return { contentType: ours.contentType, body: `${ours.body}${sep}${sdk}` };
}

/** A free loopback port for the SDK's exporter (it takes an address, not port 0). */
export async function freeLoopbackPort(): Promise<number> {
  const probe = createNetServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((res) => probe.close(() => res()));
  return port;
}
