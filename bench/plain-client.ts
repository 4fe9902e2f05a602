// The baseline: how data teams call an LLM gateway today — a semaphore around fetch, results
// in memory, no durability. Usage: tsx bench/plain-client.ts <input.jsonl> <gateway-url> <concurrency>
import { readFileSync } from 'node:fs';

async function main() {
  const [input, gateway, concurrencyArg] = process.argv.slice(2);
  const concurrency = Number(concurrencyArg);
  const lines = readFileSync(input, 'utf8').split('\n').filter(Boolean);
  const results: unknown[] = new Array(lines.length);
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < lines.length) {
      const i = next++;
      const line = JSON.parse(lines[i]) as { custom_id: string; url: string; body: unknown };
      const res = await fetch(gateway + line.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-record-id': line.custom_id },
        body: JSON.stringify(line.body),
      });
      if (!res.ok) failed++;
      results[i] = { custom_id: line.custom_id, status: res.status, body: await res.json() };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  process.stdout.write(JSON.stringify({ wallMs, cpuMs, requests: lines.length, failed }) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
