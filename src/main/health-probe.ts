// `node dist/main/health-probe.js <PORT_VARIABLE> </path>`: a container health check (the image has no curl).
// Exits 0 when http://127.0.0.1:$<PORT_VARIABLE></path> answers 2xx in time, 1 otherwise.

/** Below the HEALTHCHECK --timeout of the Dockerfile and compose, so the probe says why it failed. */
const TIMEOUT_MS = 4_000;

async function main(): Promise<number> {
  const [portVariable, path] = process.argv.slice(2);
  if (!portVariable || !path?.startsWith('/')) {
    console.error('usage: health-probe <PORT_VARIABLE> </path>, e.g. health-probe PORT /health');
    return 1;
  }
  // The variable's name, not its value, is the argument: the container's own setting is probed.
  const port = process.env[portVariable];
  if (!port || !/^\d{1,5}$/.test(port)) {
    console.error(`health-probe: ${portVariable} is not set to a port number`);
    return 1;
  }
  const url = `http://127.0.0.1:${port}${path}`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await res.arrayBuffer(); // read it all: /metrics can be large
    (res.ok ? console.log : console.error)(`health-probe: ${url} answered ${res.status}`);
    return res.ok ? 0 : 1;
  } catch (err) {
    console.error(`health-probe: ${url}: ${(err as Error).message}`);
    return 1;
  }
}

void main().then((code) => process.exit(code));
