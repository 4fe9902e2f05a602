import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const VERSION = 1;

/**
 * Authenticated encryption (AES-256-GCM) for small secrets we must keep at rest, such as
 * client headers passed through to the gateway: storage and workflow history never hold them
 * in plain text. Layout: version (1 byte) | iv (12) | auth tag (16) | ciphertext.
 */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
  }

  seal(plaintext: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
  }

  open(sealed: Buffer): string {
    if (sealed[0] !== VERSION) throw new Error('unknown secret format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(1, 13));
    decipher.setAuthTag(sealed.subarray(13, 29));
    return Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]).toString('utf8');
  }
}

const boxes = new Map<string, SecretBox>();

/**
 * The process's SecretBox: from SECRETS_KEY (any string, hashed to 32 bytes) when set —
 * required when API and workers do not share a DATA_DIR — else from `DATA_DIR/secrets.key`,
 * created once with mode 0600 by whichever process needs it first.
 */
export function secretBoxFor(config: { SECRETS_KEY?: string; DATA_DIR: string }): SecretBox {
  const id = config.SECRETS_KEY ? `env:${config.SECRETS_KEY}` : `file:${resolve(config.DATA_DIR)}`;
  let box = boxes.get(id);
  if (!box) {
    box = new SecretBox(
      config.SECRETS_KEY
        ? createHash('sha256').update(config.SECRETS_KEY).digest()
        : keyFile(config.DATA_DIR),
    );
    boxes.set(id, box);
  }
  return box;
}

function keyFile(dataDir: string): Buffer {
  const path = join(resolve(dataDir), 'secrets.key');
  mkdirSync(dirname(path), { recursive: true });
  try {
    writeFileSync(path, randomBytes(32), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readFileSync(path);
}
