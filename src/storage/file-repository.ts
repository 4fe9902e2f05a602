import type { Readable } from 'node:stream';
import type { StoredFile } from '../domain/file';
import { StoredFile as StoredFileSchema } from '../domain/file';
import { isFileId } from '../ids';
import { layout } from './layout';
import type { ObjectStore } from './object-store';

export interface ListFilesQuery {
  purpose?: string;
  order: 'asc' | 'desc';
  after?: string;
  limit: number;
}

/** File objects and their content, scoped by tenant; an expired file reads as missing. */
export class FileRepository {
  constructor(
    private readonly store: ObjectStore,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  private live(file: StoredFile | null): StoredFile | null {
    if (!file) return null;
    if (file.expires_at !== null && file.expires_at <= this.now()) return null;
    return file;
  }

  async save(file: StoredFile): Promise<void> {
    await this.store.put(layout.fileMeta(file.tenant, file.id), JSON.stringify(file));
  }

  async get(tenant: string, id: string): Promise<StoredFile | null> {
    // Never a storage key from a malformed id (a 400-character id made ENAMETOOLONG, a 500).
    if (!isFileId(id)) return null;
    const raw = await this.store.get(layout.fileMeta(tenant, id));
    if (!raw) return null;
    const file = StoredFileSchema.parse(JSON.parse(raw.toString('utf8')));
    return file.tenant === tenant ? this.live(file) : null;
  }

  async content(tenant: string, id: string): Promise<Readable | null> {
    if (!(await this.get(tenant, id))) return null;
    return this.store.getStream(layout.fileContent(tenant, id));
  }

  async delete(tenant: string, id: string): Promise<boolean> {
    if (!(await this.get(tenant, id))) return false;
    // Metadata first: once it is gone the file is gone for every reader.
    await this.store.delete(layout.fileMeta(tenant, id));
    await this.store.delete(layout.fileContent(tenant, id));
    return true;
  }

  /** One page of files sorted by created_at (ties by id), with OpenAI's `after` cursor. */
  async list(tenant: string, q: ListFilesQuery): Promise<{ data: StoredFile[]; hasMore: boolean }> {
    const keys = (await this.store.list(layout.filesPrefix(tenant))).filter((k) => k.endsWith('.json'));
    const files: StoredFile[] = [];
    for (const key of keys) {
      const raw = await this.store.get(key);
      if (!raw) continue;
      const file = this.live(StoredFileSchema.parse(JSON.parse(raw.toString('utf8'))));
      if (file && file.tenant === tenant && (!q.purpose || file.purpose === q.purpose)) files.push(file);
    }
    const dir = q.order === 'asc' ? 1 : -1;
    files.sort((a, b) => dir * (a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
    let start = 0;
    if (q.after) {
      const idx = files.findIndex((f) => f.id === q.after);
      start = idx === -1 ? files.length : idx + 1;
    }
    const data = files.slice(start, start + q.limit);
    return { data, hasMore: start + q.limit < files.length };
  }
}

/** The public File object (without our tenant field). */
export function toFileObject(file: StoredFile): Omit<StoredFile, 'tenant'> {
  const { tenant: _tenant, ...rest } = file;
  return rest;
}
