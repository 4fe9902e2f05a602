// The console in a real headless Chromium (Debian's, driven by playwright-core) against a whole
// stack with API keys: enter a key, upload and create a batch, watch it reach `completed`, download
// its files, look a record up, replay its failures, pause, resume and cancel another, page and
// filter the list, read a failed validation's line numbers — and the page asks nothing of any
// other origin. Writes docs/console.png (the README's screenshot) on the way.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import OpenAI from 'openai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../../src/domain/batch';
import { chatLine, createBatch, toJsonl, waitForBatch } from '../harness/batches';
import { startStack, type Stack } from '../harness/stack';

/** Debian's chromium (scripts/setup.sh installs it); CHROMIUM_PATH for another build. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = resolve(__dirname, '../../docs/console.png');
const KEY = 'sk-console-team-5c1d9e27a8b4';
const MODELS = ['gpt-4o-mini', 'gpt-4o'];
const LONG = 120_000;
const ODD_ID = 'odd/id 50%?#&';
/** expect.poll's patience for what the page shows after a click (the machine is loaded). */
const POLL = { timeout: 30_000, interval: 100 };

const dir = mkdtempSync(join(tmpdir(), 'batchgw-console-'));
let stack: Stack;
let browser: Browser;
let openai: OpenAI;
/** Every URL any page asked for: all must be this API's (or blob: downloads). */
const requested: string[] = [];

async function openConsole(hash = '', key: string | null = KEY): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  page.on('request', (r) => requested.push(r.url()));
  page.on('dialog', (d) => void d.accept());
  await page.goto(`${stack.apiUrl}/console${hash}`);
  await page.waitForSelector('#console-ready', { state: 'attached' });
  if (key !== null) {
    await page.fill('#api-key', key);
    await page.click('#key-form button[type=submit]');
    await expect.poll(() => page.evaluate('sessionStorage.getItem("batch-gateway.api-key")'), POLL).toBe(key);
  }
  return page;
}

/** A Batch with our `x_` fields (the openai package's type has none). */
const retrieve = async (id: string) => (await openai.batches.retrieve(id)) as unknown as Batch;
const statusOf = (page: Page) => page.getAttribute('#batch-status [data-status]', 'data-status');
const waitForStatus = (page: Page, status: string, timeout = LONG) =>
  page.waitForSelector(`#batch-status [data-status="${status}"]`, { timeout });

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the console tests need it. Install it with ` +
        '`npm run setup` as root (apt-get install chromium) or point CHROMIUM_PATH at one.',
    );
  const keysFile = join(dir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify({ [KEY]: 'console-team' }));
  // A small cap, so a slow batch is still running when the page pauses and cancels it.
  stack = await startStack({ API_KEYS_FILE: keysFile, MODEL_CONCURRENCY: '10' });
  openai = new OpenAI({ baseURL: `${stack.apiUrl}/v1`, apiKey: KEY, maxRetries: 0 });
  // Root (CI containers) cannot use Chromium's sandbox.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the console in a browser', () => {
  let firstBatch = '';

  it(
    'takes a key, uploads and creates a batch, shows it to completed, downloads its files, looks up a record',
    async () => {
      const page = await openConsole('', null);
      // Without a key the API refuses, and the page says so.
      await page.waitForSelector('text=Could not list batches');
      expect(await page.textContent('#key-state')).toContain('refused the key');
      await page.fill('#api-key', KEY);
      await page.click('#key-form button[type=submit]');
      await page.waitForSelector('text=No batches here yet.');
      expect(page.url()).not.toContain(KEY);

      const lines = Array.from({ length: 300 }, (_, i) =>
        chatLine(
          i === 20 ? ODD_ID : `req-${i}`,
          MODELS[i % 2],
          i === 7 ? 'retry me #sim:500x1' : i === 12 ? 'block me #sim:409' : `item ${i} #sim:delay=300`,
        ),
      );
      await page.click('text=New batch >> nth=0');
      await page.waitForSelector('#create-form');
      await page.setInputFiles('#input-file', {
        name: 'requests.jsonl',
        mimeType: 'application/jsonl',
        buffer: Buffer.from(toJsonl(lines)),
      });
      await page.selectOption('#endpoint', '/v1/chat/completions');
      await page.click('#add-metadata');
      await page.fill('.metadata-row >> nth=0 >> .meta-key', 'team');
      await page.fill('.metadata-row >> nth=0 >> .meta-value', 'data-eng');
      await page.click('#add-metadata');
      await page.fill('.metadata-row >> nth=1 >> .meta-key', 'constructor');
      await page.fill('.metadata-row >> nth=1 >> .meta-value', 'not a prototype');
      await page.click('#create-form button[type=submit]');
      await page.waitForURL(/#\/batches\/batch_/);
      firstBatch = decodeURIComponent(page.url().split('#/batches/')[1]);

      // Live: the overall bar moves while the batch runs (polled every second), then it completes.
      const seen = new Set<number>();
      while ((await statusOf(page)) !== 'completed') {
        const now = await page.getAttribute('#progress .progress', 'aria-valuenow');
        if (now !== null) seen.add(Number(now));
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(
        [...seen].some((n) => n > 0 && n < 300),
        `bar values seen: ${[...seen].join(', ')}`,
      ).toBe(true);
      const batch = await openai.batches.retrieve(firstBatch);
      expect(batch.metadata).toEqual({ team: 'data-eng', constructor: 'not a prototype' });
      expect(batch.request_counts).toEqual({ total: 300, completed: 299, failed: 1 });
      // One bar for all models and one per model, with the API's per-model counts.
      const bars = await page.$$eval('#progress .progress', (els) =>
        els.map((e) => [e.getAttribute('aria-valuetext'), e.getAttribute('aria-valuenow')]),
      );
      expect(bars[0]).toEqual(['299 completed, 1 failed, 300 total', '300']);
      expect(
        await page.$$eval('#progress .progress-row', (rows) => rows.map((r) => r.getAttribute('data-model'))),
      ).toEqual(['All models', ...MODELS]);
      expect(bars.slice(1).map((b) => b[0])).toEqual([
        '149 completed, 1 failed, 150 total',
        '150 completed, 0 failed, 150 total',
      ]);
      // The governance outcomes as the API counts them.
      const outcome = (name: string) => page.textContent(`#governance tr[data-outcome="${name}"] td.num`);
      expect(await outcome('succeeded')).toBe('299');
      expect(await outcome('blocked')).toBe('1');
      expect(await outcome('retried')).toBe('1');
      expect(await page.getAttribute('#rate-chart svg', 'aria-label')).toMatch(
        /^Requests finished per second: now/,
      );
      expect(await page.textContent('#details')).toContain('team = data-eng');
      expect(await page.getAttribute('#web-ui-link', 'href')).toBe(
        `http://localhost:8233/namespaces/default/workflows/${firstBatch}`,
      );

      // Downloads: the very bytes of the output and error files.
      const [output] = await Promise.all([page.waitForEvent('download'), page.click('#download-output')]);
      expect(output.suggestedFilename()).toBe(`${firstBatch}_output.jsonl`);
      const outputText = readFileSync(await output.path(), 'utf8');
      expect(outputText).toBe(await (await openai.files.content(batch.output_file_id!)).text());
      const outLines = outputText
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(outLines).toHaveLength(299);
      expect(outLines.every((l) => l.response.status_code === 200)).toBe(true);
      const [errors] = await Promise.all([page.waitForEvent('download'), page.click('#download-errors')]);
      const errorLines = readFileSync(await errors.path(), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(errorLines.map((l) => [l.custom_id, l.response.status_code])).toEqual([['req-12', 409]]);

      // A record: its two attempts (500, then 200) and its final line.
      await page.fill('#custom-id', 'req-7');
      await page.press('#custom-id', 'Enter');
      await page.waitForSelector('#attempts');
      const attempts = await page.$$eval('#attempts tbody tr', (rows) =>
        rows.map((r) => [...r.children].map((c) => c.textContent)),
      );
      expect(attempts.map((a) => [a[0], a[3]])).toEqual([
        ['1', '500'],
        ['2', '200'],
      ]);
      expect(await page.textContent('#record-state')).toBe('done');
      const finalLine = JSON.parse((await page.textContent('#record-line'))!);
      expect(finalLine).toEqual(outLines.find((l) => l.custom_id === 'req-7'));
      // A custom_id with a slash, a space and URL delimiters is percent-encoded into the path.
      await page.fill('#custom-id', ODD_ID);
      await page.click('#record-form button');
      await expect.poll(() => page.textContent('#record-result .facts dd'), POLL).toBe(ODD_ID);
      expect(JSON.parse((await page.textContent('#record-line'))!).custom_id).toBe(ODD_ID);
      await page.fill('#custom-id', 'constructor');
      await page.click('#record-form button');
      await page.waitForSelector('#record-result [role=alert]');
      expect(await page.textContent('#record-result')).toContain("No request 'constructor'");

      await page.fill('#custom-id', 'req-7');
      await page.click('#record-form button');
      await page.waitForSelector('#attempts');
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.evaluate('window.scrollTo(0, 0)');
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      // Replay failures: a new batch of the blocked line, linked back.
      await page.click('#replay-button');
      await page.waitForURL((u) => !u.hash.includes(firstBatch));
      await page.waitForSelector(`#details a.batch-link:text("${firstBatch}")`);
      await page.close();
    },
    LONG * 2,
  );

  it(
    'pauses, resumes and cancels another batch, and says so in the live region',
    async () => {
      // 100 requests of 1 s, 10 at a time (MODEL_CONCURRENCY): about 10 s unless paused or cancelled.
      const slow = await createBatch(
        openai,
        Array.from({ length: 100 }, (_, i) =>
          chatLine(`slow-${i}`, 'gpt-4o-mini', `slow ${i} #sim:delay=1000`),
        ),
      );
      const page = await openConsole(`#/batches/${slow.id}`);
      await waitForStatus(page, 'in_progress');
      await page.click('#pause-button');
      await page.waitForSelector('#batch-status .badge.paused');
      expect((await retrieve(slow.id)).x_paused_at).toEqual(expect.any(Number));
      expect(await page.textContent('#pause-button')).toBe('Resume');
      await expect.poll(() => page.textContent('#announcer'), POLL).toContain('paused');
      // Paused: the requests in flight finish (≤ 1 s), then nothing more runs.
      await new Promise((r) => setTimeout(r, 3000));
      const whilePaused = (await retrieve(slow.id)).request_counts.completed;
      await new Promise((r) => setTimeout(r, 3000));
      expect((await retrieve(slow.id)).request_counts.completed).toBe(whilePaused);
      expect(whilePaused).toBeLessThan(100);
      // The lines finished so far (the journals: request_counts move per finished chunk), downloaded
      // twice while paused: the same lines, neither none nor all.
      const resultsSoFar = async () => {
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.click('#download-results'),
        ]);
        const text = readFileSync(await download.path(), 'utf8');
        return text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l).custom_id as string)
          .sort();
      };
      const firstRead = await resultsSoFar();
      expect(firstRead.length).toBeGreaterThan(0);
      expect(firstRead.length).toBeLessThan(100);
      expect(new Set(firstRead).size).toBe(firstRead.length);
      await new Promise((r) => setTimeout(r, 2000));
      expect(await resultsSoFar()).toEqual(firstRead);
      // Keyboard: the same button, focused and pressed.
      await page.focus('#pause-button');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#batch-status .badge:not(.paused)');
      expect((await retrieve(slow.id)).x_paused_at).toBeNull();

      await page.click('#cancel-button');
      await waitForStatus(page, 'cancelled');
      await expect.poll(() => page.textContent('#announcer'), POLL).toContain('cancelled');
      expect(await page.isDisabled('#cancel-button')).toBe(true);
      expect(await page.isDisabled('#pause-button')).toBe(true);
      const cancelled = await retrieve(slow.id);
      expect(cancelled.status).toBe('cancelled');
      expect(cancelled.request_counts.completed).toBeLessThan(100);
      expect(await page.textContent('#progress .progress-text')).toBe(
        `${cancelled.request_counts.completed} completed, ${cancelled.request_counts.failed} failed, 100 total`,
      );
      await page.close();
    },
    LONG * 2,
  );

  it(
    'shows a failed validation with its line numbers',
    async () => {
      const page = await openConsole('#/new');
      const content = [
        JSON.stringify(chatLine('ok-1', 'gpt-4o-mini', 'fine')),
        '{not json',
        JSON.stringify({ custom_id: 'x' }),
      ].join('\n');
      await page.setInputFiles('#input-file', {
        name: 'bad.jsonl',
        mimeType: 'application/jsonl',
        buffer: Buffer.from(content),
      });
      await page.click('#create-form button[type=submit]');
      await page.waitForURL(/#\/batches\/batch_/);
      await waitForStatus(page, 'failed');
      const rows = await page.$$eval('#errors-table tbody tr', (trs) =>
        trs.map((r) => r.children[0].textContent),
      );
      expect(rows).toContain('2');
      expect(rows).toContain('3');
      await page.close();
    },
    LONG,
  );

  it(
    'lists batches newest first, pages with the cursor and filters by status',
    async () => {
      const tiny = [];
      for (let i = 0; i < 9; i++)
        tiny.push((await createBatch(openai, [chatLine(`t-${i}`, 'gpt-4o-mini', 'tiny')])).id);
      for (const id of tiny) await waitForBatch(openai, id);
      const all = [];
      for await (const b of openai.batches.list({ limit: 100 })) all.push(b.id);
      expect(all.length).toBeGreaterThan(10);

      const page = await openConsole();
      await page.selectOption('#page-size', '10');
      await expect.poll(() => page.textContent('.page-info'), POLL).toMatch(/^Page 1: 10 batches/);
      const ids = () =>
        page.$$eval('#batches-table tbody tr', (trs) => trs.map((r) => r.getAttribute('data-batch-id')));
      expect(await ids()).toEqual(all.slice(0, 10));
      await page.click('#page-next');
      await expect.poll(() => page.textContent('.page-info'), POLL).toMatch(/^Page 2/);
      expect(await ids()).toEqual(all.slice(10, 20));
      await page.click('#page-prev');
      await expect.poll(() => page.textContent('.page-info'), POLL).toMatch(/^Page 1/);
      expect(await ids()).toEqual(all.slice(0, 10));

      await page.selectOption('#status-filter', 'cancelled');
      await expect.poll(() => page.textContent('.page-info'), POLL).toContain('with status cancelled');
      const cancelled = await ids();
      expect(cancelled.length).toBe(1);
      expect(await page.textContent('#batches-table tbody tr >> nth=0 >> .badge')).toContain('cancelled');
      await page.click(`#batches-table a:text("${cancelled[0]}")`);
      await waitForStatus(page, 'cancelled');
      expect(await statusOf(page)).toBe('cancelled');
      await page.close();
    },
    LONG * 2,
  );

  it(
    'names every control, and reaches each one with Tab',
    async () => {
      // Controls without an accessible name: no <label for>, aria-label(ledby) or text of their own.
      const UNNAMED = `[...document.querySelectorAll('input, select, textarea, button, a[href]')]
      .filter((el) => !el.closest('[hidden]') && el.getClientRects().length > 0)
      .filter((el) => {
        if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
        if (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]')) return false;
        return !(el.textContent || '').trim();
      })
      .map((el) => el.outerHTML.slice(0, 80))`;
      const COUNT = `[...document.querySelectorAll('input, select, button:not(:disabled), a[href]')]
      .filter((el) => !el.closest('[hidden]') && el.getClientRects().length > 0).length`;
      for (const hash of ['', '#/new', `#/batches/${firstBatch}`]) {
        const page = await openConsole(hash);
        await page.waitForSelector(hash.includes('batches') ? '#batch-status [data-status]' : 'h1');
        expect(await page.evaluate(UNNAMED), hash).toEqual([]);
        // Tab walks through every visible control (the skip link first) and each shows its focus.
        const controls = Number(await page.evaluate(COUNT));
        await page.evaluate('document.activeElement.blur()');
        const reached = new Set<string>();
        for (let i = 0; i < controls + 5; i++) {
          await page.keyboard.press('Tab');
          const focused = String(
            await page.evaluate(
              `(() => { const el = document.activeElement; if (el === document.body) return ''; const o = getComputedStyle(el).outlineStyle;
              return (el.id || el.textContent.trim().slice(0, 30) || el.tagName) + (o === 'none' ? ' (no outline)' : ''); })()`,
            ),
          );
          expect(focused, `${hash}: focus ring`).not.toContain('(no outline)');
          // Past the last control focus leaves the page (the body) and comes round again.
          if (focused) reached.add(focused);
        }
        expect(reached.size, `${hash}: controls reached by Tab`).toBeGreaterThanOrEqual(controls - 1);
        await page.close();
      }
    },
    LONG,
  );

  it('asked nothing of any other origin', () => {
    expect(requested.length).toBeGreaterThan(10);
    const foreign = requested.filter((u) => !u.startsWith(`${stack.apiUrl}/`) && !u.startsWith('blob:'));
    expect(foreign).toEqual([]);
  });
});

describe('the console without authentication (the embedded default)', () => {
  it(
    'lists and opens batches with no key entered',
    async () => {
      const open = await startStack();
      try {
        const client = new OpenAI({ baseURL: `${open.apiUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
        const batch = await createBatch(client, [chatLine('a', 'gpt-4o-mini', 'hello')]);
        await waitForBatch(client, batch.id);
        const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
        await page.goto(`${open.apiUrl}/console`);
        await page.click(`#batches-table a:text("${batch.id}")`);
        await waitForStatus(page, 'completed');
        expect(await page.textContent('#key-state')).toContain('No key');
        await page.close();
      } finally {
        await open.close();
      }
    },
    LONG,
  );
});
