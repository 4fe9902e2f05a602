// versitygw (Apache-2.0), a real S3-compatible server over a local directory, for local use and
// the tests: `npm run setup` builds the pinned release into the same user-level cache as the
// temporal CLI. Objects are plain files under <dir>/<bucket>/; metadata lives in xattrs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { findTool } from '../temporal/cli-path';

export const VERSITYGW_VERSION = '1.8.0';

/** The versitygw binary: $VERSITYGW_PATH, the project's .tools/bin, the setup cache, then PATH. */
export function findVersitygw(env: NodeJS.ProcessEnv = process.env): string | null {
  return findTool('versitygw', env.VERSITYGW_PATH, env.PATH);
}

export interface Versitygw {
  /** http://127.0.0.1:<port>, for AWS_ENDPOINT_URL. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  process: ChildProcess;
  /** Creates a bucket (the gateway never does: that is the operator's job). */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `versitygw posix <dir>` on 127.0.0.1:<port> and resolves once it answers HTTP (an
 * anonymous `GET /` gets 403 when it is ready).
 */
export async function startVersitygw(opts: {
  port: number;
  dir: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}): Promise<Versitygw> {
  const bin = findVersitygw();
  if (!bin)
    throw new Error(
      `versitygw was not found: run \`npm run setup\` (builds v${VERSITYGW_VERSION} with go install) or set VERSITYGW_PATH`,
    );
  mkdirSync(opts.dir, { recursive: true });
  const accessKeyId = opts.accessKeyId ?? 'batchgw-local';
  const secretAccessKey = opts.secretAccessKey ?? 'batchgw-local-secret';
  const endpoint = `http://127.0.0.1:${opts.port}`;
  const child = spawn(bin, ['--port', `127.0.0.1:${opts.port}`, '--quiet', 'posix', opts.dir], {
    env: { ...process.env, ROOT_ACCESS_KEY_ID: accessKeyId, ROOT_SECRET_ACCESS_KEY: secretAccessKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (d: Buffer) => {
    out = (out + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`versitygw exited with ${child.exitCode}:\n${out}`);
    const answered = await fetch(`${endpoint}/`).then(
      () => true,
      () => false,
    );
    if (answered) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`versitygw did not answer on ${endpoint} within 15 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    process: child,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      client.destroy();
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}
