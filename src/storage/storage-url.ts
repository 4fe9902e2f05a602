// STORAGE_URL: `s3://bucket/prefix` chooses the S3 store (s3-store.ts). Parsed here, without the AWS
// SDK, so that the configuration can check it at start.

export interface S3Location {
  bucket: string;
  /** Key prefix without leading or trailing '/'; '' for the bucket's root. */
  prefix: string;
}

/** S3's rules for bucket names (3–63 of a-z 0-9 . -, starting and ending with a letter or digit). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The bucket and prefix of `s3://bucket[/prefix]`, or null when the URL is not one. */
export function parseS3Url(url: string): S3Location | null {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m || !BUCKET.test(m[1])) return null;
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  const steps = prefix === '' ? [] : prefix.split('/');
  if (steps.some((s) => s === '' || s === '.' || s === '..' || /[\\\0]/.test(s))) return null;
  return { bucket: m[1], prefix };
}
