/** Where the gateway reports an `action: flag` policy hit on an answered request. */
export interface FlagRule {
  /** Response header whose value `flag` marks the answer (e.g. `x-governance-action`). */
  header: string;
  /** Dotted path of a body field whose value `flag` marks the answer (e.g. `governance.action`). */
  field: string;
}

function readPath(body: unknown, path: string): unknown {
  let cur = body;
  for (const key of path.split('.')) {
    // Own properties only: a path step like `constructor` must not read Object.prototype.
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** True when the gateway flagged (recorded, not blocked) this 2xx answer. */
export function isFlagged(
  rule: FlagRule,
  headers: Record<string, string | string[] | undefined>,
  body: unknown,
): boolean {
  const h = rule.header ? headers[rule.header.toLowerCase()] : undefined;
  const value = Array.isArray(h) ? h[0] : h;
  if (value?.toLowerCase() === 'flag') return true;
  return rule.field ? readPath(body, rule.field) === 'flag' : false;
}
