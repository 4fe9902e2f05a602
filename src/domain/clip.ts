// User strings (custom_ids, model names, urls, schema keys) quoted in error messages, cut short:
// messages end up in workflow payloads, Batch objects and error lines, which must stay small.

/** Longest user string an error message quotes, in characters. */
export const MAX_QUOTED_CHARS = 64;

/** `s` as is when short, else its first `max` characters and an ellipsis. */
export function clip(s: string, max = MAX_QUOTED_CHARS): string {
  if (s.length <= max) return s;
  // Never cut a surrogate pair in half (the message would not be valid UTF-16).
  const end = /[\ud800-\udbff]/.test(s[max - 1]) ? max - 1 : max;
  return `${s.slice(0, end)}…`;
}
