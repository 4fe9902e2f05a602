// Reads deploy/grafana-dashboard.json and deploy/prometheus-alerts.yml, parses their PromQL, lists the metrics they use, and parses a scrape.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';

const ROOT = resolve(__dirname, '../..');
export const DASHBOARD_PATH = resolve(ROOT, 'deploy/grafana-dashboard.json');
export const ALERTS_PATH = resolve(ROOT, 'deploy/prometheus-alerts.yml');

/** Series Prometheus makes itself for every target: used by the rules, exported by nobody. */
export const PROMETHEUS_SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

export interface Expression {
  /** Where it is: `panel 3 "…" A` or `rule BatchGateway…`. */
  where: string;
  /** As written (with Grafana's variables in a dashboard). */
  raw: string;
  /** What Prometheus is sent: Grafana's variables replaced. */
  promql: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the files' shapes are what the tests check
type Json = any;

export const readDashboard = (): Json => JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8'));
export const readAlerts = (): Json => parseYaml(readFileSync(ALERTS_PATH, 'utf8'));

/** Grafana's variables as it would send them: the template defaults, and a fixed rate interval. */
export function grafanaVariables(dashboard: Json): Map<string, string> {
  const vars = new Map<string, string>([
    ['__rate_interval', '1m'],
    ['__interval', '30s'],
    ['__range', '6h'],
  ]);
  for (const v of dashboard.templating?.list ?? []) vars.set(v.name, String(v.current?.value ?? v.query));
  return vars;
}

const substitute = (expr: string, vars: Map<string, string>): string =>
  expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, braced: string | undefined, bare: string | undefined) => {
    const v = vars.get((braced ?? bare) as string);
    if (v === undefined) throw new Error(`unknown Grafana variable ${m} in ${expr}`);
    return v;
  });

/** Every PromQL expression of the dashboard (panel targets) and of the alert rules. */
export function allExpressions(): Expression[] {
  const dashboard = readDashboard();
  const vars = grafanaVariables(dashboard);
  const out: Expression[] = [];
  for (const p of dashboard.panels) {
    for (const t of p.targets ?? [])
      out.push({
        where: `panel ${p.id} "${p.title}" ${t.refId}`,
        raw: t.expr,
        promql: substitute(t.expr, vars),
      });
  }
  for (const g of readAlerts().groups)
    for (const r of g.rules) out.push({ where: `rule ${r.alert ?? r.record}`, raw: r.expr, promql: r.expr });
  return out;
}

/** Parses PromQL with the Prometheus project's grammar: the metric names it selects, or the syntax errors. */
export function parsePromql(expr: string): { metrics: string[]; errors: string[] } {
  const tree = parser.parse(expr);
  const metrics: string[] = [];
  const errors: string[] = [];
  tree.iterate({
    enter: (n) => {
      if (n.type.isError)
        errors.push(`syntax error at ${n.from}: …${expr.slice(Math.max(0, n.from - 20), n.from + 20)}…`);
      if (n.name === 'VectorSelector') {
        const id = n.node.getChild('Identifier');
        if (id) metrics.push(expr.slice(id.from, id.to));
      }
    },
  });
  return { metrics, errors };
}

/** The metric names the deploy files use (histograms as written: `_bucket`, `_count`, `_sum`). */
export function usedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const e of allExpressions()) for (const m of parsePromql(e.promql).metrics) names.add(m);
  return names;
}

/** Sample names in a Prometheus text scrape (a histogram gives its _bucket, _sum and _count). */
export function sampleNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}

/** Whether a used name is exported: as a sample, or a histogram/summary whose series are. */
export function isExported(name: string, samples: Set<string>): boolean {
  return samples.has(name) || samples.has(`${name}_bucket`) || samples.has(`${name}_count`);
}

/** The value of one sample (`name{a="b",…}`, labels in any order), or undefined. */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = new Map<string, string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      got.set(l[1], l[2]);
    if (Object.entries(labels).every(([k, v]) => got.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}
