import type { ActivityRuntime } from '../activities/runtime';
import type { BatchOptions } from '../domain/batch-state';
import type { QualityScore } from '../records/outcome';
import { clip } from '../domain/clip';
import { contentExtractor, type AnswerContent } from './content';
import { plainTextConsistency, scoreQuality, type QualityThresholds } from './quality';
import { requestedFormat } from './request-format';
import { compileSchema, type CompiledSchema } from './schema';

/** What the output checks say about one 2xx answer. */
export interface OutputVerdict {
  /** Set when the content fails the output schema: the line goes to the error file (`schema_validation_failed`). */
  schemaIssues: string[] | null;
  /**
   * With `schemaIssues`: `schema_unsupported` when a schema could not be checked at all (a pattern
   * RE2 cannot run), else `schema_validation_failed`.
   */
  schemaCode?: 'schema_validation_failed' | 'schema_unsupported';
  /** Per-line quality scores; undefined when the answer has no content to score. */
  quality: QualityScore | undefined;
}

/** Checks applied to every 2xx answer of a chunk (schema validation, quality scoring). */
export interface OutputChecks {
  inspect(requestBody: string, response: unknown, flagged: boolean): OutputVerdict;
}

/** No checks: every answer passes, nothing is scored. */
export const NO_CHECKS: OutputChecks = {
  inspect: () => ({ schemaIssues: null, quality: undefined }),
};

type Parsed = { ok: true; value: unknown } | { ok: false; issue: string };

function parseContent(content: AnswerContent): Parsed {
  if (!content.text.trim()) return { ok: false, issue: 'content is empty; JSON was expected' };
  try {
    return { ok: true, value: JSON.parse(content.text) };
  } catch (err) {
    // V8 quotes part of the text in the message: keep it short.
    return { ok: false, issue: `content is not valid JSON: ${clip((err as Error).message, 200)}` };
  }
}

function schemaIssues(schema: CompiledSchema, value: unknown, origin: string): string[] | null {
  if (schema.ok) return schema.check(value);
  return [
    `${origin} ${schema.unsupported ? 'cannot be checked' : 'is not a valid JSON schema'}: ${schema.error}`,
  ];
}

const isJsonObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The checks of one chunk. The content must satisfy the batch schema (if any) and the request's own
 * `json_schema` (if any); consistency is 1/0 against a schema, 1/0 for "is a JSON object" in JSON
 * mode, and the plain-text heuristic otherwise.
 */
export function createOutputChecks(
  endpoint: string,
  batchSchema: CompiledSchema | null,
  thresholds: QualityThresholds | null,
): OutputChecks {
  const extract = contentExtractor(endpoint);
  // Embeddings and moderations have no generated text: nothing to validate or score.
  if (!extract) return NO_CHECKS;
  return {
    inspect(requestBody, response, flagged) {
      const content = extract(response);
      const format = requestedFormat(endpoint, requestBody);
      let issues: string[] | null = null;
      let unsupported = false;
      let consistency: number;
      if (!batchSchema && format.kind === 'text') {
        consistency = plainTextConsistency(content.text);
      } else {
        const parsed = parseContent(content);
        const schemas: [CompiledSchema, string][] = [];
        if (batchSchema) schemas.push([batchSchema, 'the batch x_output_schema']);
        if (format.kind === 'schema')
          schemas.push([compileSchema(format.schemaText), "the request's schema"]);
        if (schemas.length === 0) {
          // JSON mode without a schema: off-format content lowers the score, it is not an error line.
          consistency = parsed.ok && isJsonObject(parsed.value) ? 1 : 0;
        } else {
          const uncheckable = schemas.filter(([schema]) => !schema.ok && schema.unsupported);
          if (uncheckable.length) {
            // Not the content's fault: the line fails with its own code, whatever the content.
            unsupported = true;
            issues = uncheckable.map(([schema, origin]) => schemaIssues(schema, null, origin)![0]);
          } else if (!parsed.ok) issues = [parsed.issue];
          else {
            const found = new Set<string>();
            for (const [schema, origin] of schemas)
              for (const issue of schemaIssues(schema, parsed.value, origin) ?? []) found.add(issue);
            if (found.size) issues = [...found];
          }
          consistency = issues ? 0 : 1;
        }
      }
      return {
        schemaIssues: issues,
        ...(issues ? { schemaCode: unsupported ? 'schema_unsupported' : 'schema_validation_failed' } : {}),
        quality: scoreQuality(content, consistency, flagged, issues !== null, thresholds),
      };
    },
  };
}

/**
 * The output checks of a chunk: reads the batch's `x_output_schema` from storage (compiled once
 * per process) and its quality thresholds (none unless `x_quality_thresholds` was set: no verdict).
 */
export async function loadOutputChecks(
  rt: ActivityRuntime,
  options: BatchOptions | undefined,
  endpoint: string,
): Promise<OutputChecks> {
  if (!contentExtractor(endpoint)) return NO_CHECKS;
  let batchSchema: CompiledSchema | null = null;
  const key = options?.outputSchemaKey;
  if (key) {
    const data = await rt.store.get(key);
    // Written before the batch started, so a miss is a storage fault: fail the attempt, let it retry.
    if (!data) throw new Error(`the batch's output schema is missing from storage (${key})`);
    batchSchema = compileSchema(data.toString('utf8'));
  }
  return createOutputChecks(endpoint, batchSchema, options?.qualityThresholds ?? null);
}
