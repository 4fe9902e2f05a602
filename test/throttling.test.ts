import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorConfigFromEnv } from '../src/simulator/config';
import type { SimulatorStats } from '../src/simulator/server';
import { chatLine, createBatch, readResultFile, waitForBatch, type RequestLine } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// Governance of upstream pressure beyond the fixed caps: per-model concurrency that adapts to the
// gateway's 429s (AIMD), and per-model requests/tokens-per-minute limits (MODEL_RATE_LIMITS).
const CAP = 40;
const THROTTLE_AT = 8;
const RPM = 600;
const TPM = 30_000;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack(
    {
      MODEL_CONCURRENCY: String(CAP),
      GLOBAL_CONCURRENCY: String(CAP * 2),
      SEGMENT_SIZE: '100',
      // Retry-After (0.5 s) is honoured, not capped at the harness's 200 ms.
      RETRY_MAX_MS: '1000',
      MODEL_RATE_LIMITS: JSON.stringify({ 'm-rpm': { rpm: RPM }, 'm-tpm': { tpm: TPM } }),
    },
    { latencyMs: 20, retryAfterS: 0.5 },
  );
});
afterAll(async () => stack?.close());

interface Sample {
  t: number;
  stats: SimulatorStats;
}

/** Samples the simulator's counters every few milliseconds until stopped. */
function sampler(everyMs = 20): { samples: Sample[]; stop: () => Promise<void> } {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push({ t: Date.now(), stats: stack.sim.stats() });
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

const count = (s: SimulatorStats, status: string) => s.byStatus[status] ?? 0;
const modelCalls = (s: SimulatorStats, model: string) => s.byModel[model]?.calls ?? 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every custom_id exactly once across output and error files. */
async function expectExactlyOnce(batchId: string, lines: RequestLine[]): Promise<void> {
  const b = await waitForBatch(stack.openai, batchId);
  const output = await readResultFile(stack.openai, b.output_file_id);
  const errors = await readResultFile(stack.openai, b.error_file_id);
  const ids = [...output, ...errors].map((l) => l.custom_id);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids.sort()).toEqual(lines.map((l) => l.custom_id).sort());
}

describe('adaptive concurrency (AIMD)', () => {
  it('backs off to what a throttling gateway accepts, then climbs back to the cap', async () => {
    stack.sim.configure({ rateLimitConcurrency: THROTTLE_AT });
    stack.sim.reset();
    const lines = Array.from({ length: 4000 }, (_, i) => chatLine(`a-${i}`, 'm-aimd', `adapt ${i}`));
    const created = await createBatch(stack.openai, lines);

    // Phase 1: the gateway answers 429 to every call beyond THROTTLE_AT in flight.
    while (modelCalls(stack.sim.stats(), 'm-aimd') === 0) await sleep(5);
    const early = sampler();
    await sleep(4000);
    await early.stop();
    const at = (ms: number) => early.samples.find((x) => x.t - early.samples[0].t >= ms)!;
    const start = early.samples[0];
    const end = early.samples[early.samples.length - 1];
    const rate429 = (a: Sample, b: Sample) =>
      (count(b.stats, '429') - count(a.stats, '429')) / Math.max(1, b.stats.calls - a.stats.calls);
    const firstHalfSecond = rate429(start, at(500));
    const settled = rate429(at(2000), end);
    const settledOk =
      (count(end.stats, '200') - count(at(2000).stats, '200')) / ((end.t - at(2000).t) / 1000);
    console.log(
      `throttled at ${THROTTLE_AT}: 429 share ${(firstHalfSecond * 100).toFixed(1)} % in the first 0.5 s, ` +
        `${(settled * 100).toFixed(1)} % from 2 s to 4 s (${count(end.stats, '429') - count(at(2000).stats, '429')} 429s, ` +
        `${settledOk.toFixed(0)} ok/s); total 429s ${count(end.stats, '429')}`,
    );
    // Without adaptation 32 of every 40 calls would be refused; once adapted, 429s become rare.
    expect(settled).toBeLessThan(0.1);
    expect(settled).toBeLessThan(firstHalfSecond / 2);
    // And it has not collapsed: the gateway allows THROTTLE_AT / 20 ms = 400/s, a limit stuck at 1
    // would give 50/s (AIMD's sawtooth between N/2 and N, and chunk boundaries, leave ~60 %).
    expect(settledOk).toBeGreaterThan(0.3 * (THROTTLE_AT / 0.02));

    // Phase 2: the gateway stops throttling; in-flight climbs back towards the cap.
    stack.sim.configure({ rateLimitConcurrency: 0 });
    stack.sim.reset();
    const late = sampler();
    await sleep(2500);
    await late.stop();
    const last = late.samples[late.samples.length - 1].stats;
    const recovered = last.byModel['m-aimd']?.maxInFlight ?? 0;
    const lateOk = count(last, '200') / 2.5;
    console.log(
      `after throttling stopped: max in flight ${recovered} (cap ${CAP}), ${lateOk.toFixed(0)} ok/s`,
    );
    expect(recovered).toBeGreaterThanOrEqual(0.75 * CAP);
    expect(recovered).toBeLessThanOrEqual(CAP);
    expect(lateOk).toBeGreaterThan(2 * settledOk);

    const done = await waitForBatch(stack.openai, created.id);
    expect(done.request_counts).toEqual({ total: 4000, completed: 4000, failed: 0 });
    await expectExactlyOnce(created.id, lines);
  });
});

describe('per-model rate limits', () => {
  it('requests per minute: 60 requests at 600/min take ~5 s; a model without a limit is not slowed', async () => {
    stack.sim.reset();
    const lines = Array.from({ length: 120 }, (_, i) =>
      chatLine(`r-${i}`, i % 2 ? 'm-free' : 'm-rpm', `rate ${i}`),
    );
    const created = await createBatch(stack.openai, lines);
    const s = sampler(10);
    const firstAndLast = async (model: string, n: number) => {
      while (!s.samples.some((x) => modelCalls(x.stats, model) >= n)) await sleep(10);
      const first = s.samples.find((x) => modelCalls(x.stats, model) > 0)!.t;
      const last = s.samples.find((x) => modelCalls(x.stats, model) >= n)!.t;
      return { first, last };
    };
    const free = await firstAndLast('m-free', 60);
    const limited = await firstAndLast('m-rpm', 60);
    await s.stop();
    const freeSpan = free.last - free.first;
    const limitedSpan = limited.last - limited.first;
    console.log(`rpm ${RPM}: 60 calls over ${limitedSpan} ms; unlimited model: 60 calls over ${freeSpan} ms`);
    // 10 at once (one second's worth), then one every 100 ms: the 60th at 5 s.
    expect(limitedSpan).toBeGreaterThanOrEqual(4500);
    expect(limitedSpan).toBeLessThan(7000);
    expect(freeSpan).toBeLessThan(1500);
    // Never ahead of the budget: at most 10 + 10/s since the first call.
    for (const x of s.samples) {
      if (x.t < limited.first) continue;
      // (+2 for the lag of our sampling: the simulator shares this process.)
      expect(modelCalls(x.stats, 'm-rpm')).toBeLessThanOrEqual(10 + ((x.t - limited.first) / 1000) * 10 + 2);
    }
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.request_counts).toEqual({ total: 120, completed: 120, failed: 0 });
  });

  it('tokens per minute: the tokens the gateway reports stay within the budget over time', async () => {
    stack.sim.reset();
    const text = 'Classify the sentiment of this customer review of the product and explain briefly: ';
    const lines = Array.from({ length: 60 }, (_, i) => {
      const line = chatLine(`t-${i}`, 'm-tpm', `${text}${String(i).padStart(4, '0')}`);
      line.body.max_tokens = 20;
      return line;
    });
    const created = await createBatch(stack.openai, lines);
    const s = sampler(10);
    const done = await waitForBatch(stack.openai, created.id);
    await s.stop();
    expect(done.request_counts).toEqual({ total: 60, completed: 60, failed: 0 });

    // Every line is the same length, so every call reports the same usage.
    const output = await readResultFile(stack.openai, done.output_file_id);
    const perCall = output[0].response!.body.usage.total_tokens as number;
    for (const l of output) expect(l.response!.body.usage.total_tokens).toBe(perCall);
    expect(done.usage.total_tokens).toBe(60 * perCall);

    const perSecond = TPM / 60;
    const reached = (n: number) => s.samples.find((x) => modelCalls(x.stats, 'm-tpm') >= n)!.t;
    const first = reached(1);
    const span = (reached(60) - first) / 1000;
    console.log(
      `tpm ${TPM}: ${done.usage.total_tokens} reported tokens (${perCall}/call) from the first call to the last ` +
        `in ${span.toFixed(2)} s (one second's burst of ${perSecond}, then ${perSecond}/s: ` +
        `${((done.usage.total_tokens - perSecond) / perSecond).toFixed(2)} s)`,
    );
    // At every moment: reported tokens ≤ one second's burst + the rate since the first call, plus one
    // request taken on credit and 0.3 s for the lag of our sampling (the simulator shares this process).
    for (const x of s.samples) {
      if (x.t < first) continue;
      const sent = modelCalls(x.stats, 'm-tpm') * perCall;
      expect(sent).toBeLessThanOrEqual(perSecond * (1.3 + (x.t - first) / 1000) + perCall);
    }
    // In steady state (after the burst) the pace is the budget's: not faster, and not far slower.
    const steady = (reached(60) - reached(20)) / 1000;
    const steadyRate = (40 * perCall) / steady;
    console.log(`steady state: ${steadyRate.toFixed(0)} tokens/s (budget ${perSecond}/s)`);
    expect(steadyRate).toBeLessThanOrEqual(perSecond * 1.1);
    expect(steadyRate).toBeGreaterThan(perSecond * 0.7);
  });
});

describe('simulator throttling modes', () => {
  const post = (model: string, text = 'hi') =>
    fetch(`${stack.sim.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: `${text} #sim:delay=200` }] }),
    });

  it('are set by env, options and POST /_sim/config', async () => {
    expect(simulatorConfigFromEnv({})).toMatchObject({ rateLimitConcurrency: 0, rateLimitRpm: 0 });
    expect(
      simulatorConfigFromEnv({ SIM_RATE_LIMIT_CONCURRENCY: '3', SIM_RATE_LIMIT_RPM: '60' }),
    ).toMatchObject({ rateLimitConcurrency: 3, rateLimitRpm: 60 });
    const res = await fetch(`${stack.sim.url}/_sim/config`, {
      method: 'POST',
      body: JSON.stringify({ rateLimitConcurrency: 2 }),
    });
    expect(await res.json()).toMatchObject({ rateLimitConcurrency: 2, rateLimitRpm: 0 });
    try {
      // Two calls of a model are served; the third, while they are, is refused at once.
      const served = [post('sim-c'), post('sim-c')];
      await sleep(50);
      const started = Date.now();
      const refused = await post('sim-c');
      expect(refused.status).toBe(429);
      expect(Date.now() - started).toBeLessThan(150);
      expect(refused.headers.get('retry-after')).toBe('0.5');
      // Another model has its own count.
      expect((await post('sim-other')).status).toBe(200);
      expect((await Promise.all(served)).map((r) => r.status)).toEqual([200, 200]);
      expect((await post('sim-c')).status).toBe(200);
    } finally {
      stack.sim.configure({ rateLimitConcurrency: 0 });
    }
  });

  it('rateLimitRpm refuses beyond one second of the budget, with Retry-After until the next slot', async () => {
    stack.sim.configure({ rateLimitRpm: 120 });
    try {
      const answers = await Promise.all([0, 1, 2].map((i) => post('sim-rpm', `r${i}`)));
      expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 429]);
      const refused = answers.find((r) => r.status === 429)!;
      const wait = Number(refused.headers.get('retry-after'));
      expect(wait).toBeGreaterThan(0.3);
      expect(wait).toBeLessThanOrEqual(0.5);
      await sleep(wait * 1000 + 20);
      expect((await post('sim-rpm', 'again')).status).toBe(200);
    } finally {
      stack.sim.configure({ rateLimitRpm: 0 });
    }
  });
});
