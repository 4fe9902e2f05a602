// API_KEYS_FILE: API keys (or their sha256) → tenants and their quotas, validated at load,
// reloaded on change and on demand (SIGHUP) without a restart; a bad reload keeps the last good keys.
import { createHash, timingSafeEqual } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { z } from 'zod';
import { TenantName } from '../../contract/start-batch';
import { ConfigError } from '../../config';
import { WebhookSecret, WebhookUrl, type WebhookTarget } from '../../webhooks/target';

/** Who a request acts for, and the tenant's quotas (null: no limit). */
export interface Identity {
  tenant: string;
  /** Share of a model's capacity against other tenants competing for it (read by the workers). */
  weight: number;
  /** Running batches the tenant may have; above it, creates and replays answer 429. */
  maxActiveBatches: number | null;
  /** Upstream requests of the tenant in flight at once (read by the workers). */
  maxInFlight: number | null;
  /** Where the tenant's batch events go (`webhook_url`, `webhook_secret`); null: the deployment's WEBHOOK_URL, if any. */
  webhook: WebhookTarget | null;
}

export const identityOfTenant = (tenant: string): Identity => ({
  tenant,
  weight: 1,
  maxActiveBatches: null,
  maxInFlight: null,
  webhook: null,
});

/** A key as clients send it after `Bearer `: visible ASCII, no spaces. */
const KEY = /^[\x21-\x7e]{1,512}$/;
const HASHED = /^sha256:([0-9a-fA-F]{64})$/;

const EntryObject = z
  .object({
    tenant: TenantName,
    weight: z.number().positive().finite().default(1),
    max_active_batches: z.number().int().positive().nullable().default(null),
    max_in_flight: z.number().int().positive().nullable().default(null),
    webhook_url: WebhookUrl.optional(),
    webhook_secret: WebhookSecret.optional(),
  })
  .strict()
  .refine((e) => !e.webhook_url === !e.webhook_secret, {
    message: 'webhook_url and webhook_secret go together',
    path: ['webhook_url'],
  });

/** sha256 of a key, as 32 bytes. */
const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/** Keys by the hex of their sha256. */
export type KeyTable = ReadonlyMap<string, { digest: Buffer; identity: Identity }>;

/** Parses a keys file's text; throws an Error whose message is one line naming the problem. */
export function parseKeysFile(text: string): KeyTable {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error('must be a JSON object of API key (or "sha256:<hex>") → tenant');
  const table = new Map<string, { digest: Buffer; identity: Identity }>();
  // A webhook belongs to the tenant: the entries that name one must agree, the others share it.
  const webhooks = new Map<string, { target: WebhookTarget; at: string }>();
  // Entries are named by position, never by key: keys are secrets and messages get logged.
  for (const [i, [key, value]] of Object.entries(raw).entries()) {
    const at = `entry #${i + 1}`;
    const hashed = HASHED.exec(key);
    if (!hashed && (!KEY.test(key) || key.startsWith('sha256:')))
      throw new Error(
        `${at}: a key is 1–512 visible ASCII characters without spaces, or "sha256:" and 64 hex digits`,
      );
    let identity: Identity;
    if (typeof value === 'string') {
      const tenant = TenantName.safeParse(value);
      if (!tenant.success) throw new Error(`${at}: ${tenant.error.issues[0].message}`);
      identity = identityOfTenant(tenant.data);
    } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const entry = EntryObject.safeParse(value);
      if (!entry.success) {
        const issue = entry.error.issues[0];
        const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
        throw new Error(`${at}: ${field ? `'${field}': ` : ''}${issue.message}`);
      }
      identity = {
        tenant: entry.data.tenant,
        weight: entry.data.weight,
        maxActiveBatches: entry.data.max_active_batches,
        maxInFlight: entry.data.max_in_flight,
        webhook: null,
      };
      const { webhook_url: url, webhook_secret: secret } = entry.data;
      if (url && secret) {
        const known = webhooks.get(identity.tenant);
        if (known && (known.target.url !== url || known.target.secret !== secret))
          throw new Error(
            `${at}: tenant '${identity.tenant}' has another webhook_url or webhook_secret in ${known.at} (a webhook is per tenant)`,
          );
        webhooks.set(identity.tenant, { target: { url, secret }, at });
      }
    } else {
      throw new Error(
        `${at}: must be a tenant name or {"tenant", "weight", "max_active_batches", "max_in_flight", "webhook_url", "webhook_secret"}`,
      );
    }
    const d = hashed ? Buffer.from(hashed[1], 'hex') : digest(key);
    const hex = d.toString('hex');
    if (table.has(hex)) throw new Error(`${at}: the same key is listed twice (plain and as sha256)`);
    table.set(hex, { digest: d, identity });
  }
  for (const { identity } of table.values()) identity.webhook = webhooks.get(identity.tenant)?.target ?? null;
  return table;
}

/**
 * The identity of a presented key, or null. Keys are compared as sha256 digests: the lookup's
 * timing depends only on the digest (which tells nothing about a key), and the match itself is
 * checked with timingSafeEqual.
 */
export function lookupKey(table: KeyTable, key: string): Identity | null {
  const d = digest(key);
  const found = table.get(d.toString('hex'));
  return found && timingSafeEqual(found.digest, d) ? found.identity : null;
}

export interface KeyRingLog {
  info(msg: string): void;
  error(msg: string): void;
}

/**
 * The keys of API_KEYS_FILE, current as of the last good load. `open` fails (ConfigError, one
 * line) on a bad file; a bad file at a reload is logged and the previous keys stay in force.
 */
export class KeyRing {
  private table: KeyTable = new Map();
  private text = '';
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reloading: Promise<boolean> | null = null;
  private again = false;

  private constructor(
    readonly path: string,
    private readonly log: KeyRingLog,
  ) {}

  /** Loads the file (exits the caller with a ConfigError when it is bad) and, unless told not to, watches it. */
  static async open(
    path: string,
    log: KeyRingLog,
    opts: { watch?: boolean; debounceMs?: number } = {},
  ): Promise<KeyRing> {
    const ring = new KeyRing(resolve(path), log);
    try {
      ring.install(await readFile(ring.path, 'utf8'));
    } catch (err) {
      throw new ConfigError(`invalid configuration: API_KEYS_FILE ${path}: ${problemOf(err)}`);
    }
    if (opts.watch !== false) ring.watch(opts.debounceMs ?? 100);
    return ring;
  }

  get size(): number {
    return this.table.size;
  }

  /** `3 keys`, `1 key`. */
  get sizeText(): string {
    return keysCount(this.table.size);
  }

  lookup(key: string): Identity | null {
    return lookupKey(this.table, key);
  }

  /**
   * Reads the file again; true when new keys took effect. A bad or unreadable file is logged and
   * the previous keys stay; an unchanged file changes nothing. Concurrent calls coalesce.
   */
  async reload(): Promise<boolean> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      let changed = false;
      do {
        this.again = false;
        try {
          const text = await readFile(this.path, 'utf8');
          if (text === this.text) continue;
          this.install(text);
          changed = true;
          this.log.info(`API_KEYS_FILE ${this.path}: reloaded, ${keysCount(this.table.size)}`);
        } catch (err) {
          this.log.error(
            `API_KEYS_FILE ${this.path}: ${problemOf(err)}; keeping the last good file's ${keysCount(this.table.size)}`,
          );
        }
      } while (this.again);
      return changed;
    })();
    try {
      return await this.reloading;
    } finally {
      this.reloading = null;
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
  }

  private install(text: string): void {
    this.table = parseKeysFile(text);
    this.text = text;
  }

  /**
   * Watches the file's directory, not the file: editors and config mounts replace a file by a
   * rename (a watch on the old inode would go silent). Any event there schedules one debounced
   * reload, which compares the content, so unrelated files cost one read.
   */
  private watch(debounceMs: number): void {
    const name = basename(this.path);
    const schedule = () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.reload();
      }, debounceMs);
      this.timer.unref();
    };
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        // Kubernetes-style mounts swap a `..data` symlink: react to the file and to dot-entries.
        if (file === null || file === name || file.startsWith('..')) schedule();
      });
      this.watcher.on('error', (err) =>
        this.log.error(`API_KEYS_FILE ${this.path}: watching stopped (${err.message}); SIGHUP still reloads`),
      );
    } catch (err) {
      this.log.error(`API_KEYS_FILE ${this.path}: cannot watch (${problemOf(err)}); SIGHUP reloads`);
    }
  }
}

const keysCount = (n: number): string => `${n} ${n === 1 ? 'key' : 'keys'}`;

function problemOf(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}
