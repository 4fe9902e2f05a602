// Checks real HTTP answers against our OpenAPI document: the operation, the status, the content
// type, the required headers and the body (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses), and
// records which operation answered which status so a test can ask what was never exercised.
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';

type Json = Record<string, unknown>;

interface ResponseObject {
  $ref?: string;
  content?: Record<string, Json>;
  headers?: Record<string, Json>;
}

/** A JSON pointer token (RFC 6901). */
const token = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

export interface Checked {
  /** e.g. `GET /v1/batches/{batch_id}`. */
  operation: string;
  status: number;
  text: string;
  /** The parsed body when it is JSON. */
  json: unknown;
}

export class OpenApiChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly templates: { template: string; re: RegExp }[];
  /** `METHOD template status` of every answer checked. */
  readonly seen = new Set<string>();

  constructor(private readonly doc: Json) {
    this.ajv.addFormat('binary', true);
    this.ajv.addSchema(doc, 'openapi.json');
    this.templates = Object.keys(doc.paths as Json).map((template) => ({
      template,
      re: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }));
  }

  /** Every `METHOD template` the document declares. */
  operations(): string[] {
    return Object.entries(this.doc.paths as Record<string, Json>).flatMap(([template, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${template}`),
    );
  }

  /** The response object of an answer and its JSON pointer: itself, or the one its `$ref` names. */
  private resolve(answer: ResponseObject, pointer: string): { pointer: string; response: ResponseObject } {
    if (typeof answer.$ref !== 'string') return { pointer, response: answer };
    const name = answer.$ref.split('/').pop() as string;
    const responses = (this.doc.components as { responses: Record<string, ResponseObject> }).responses;
    return { pointer: answer.$ref.slice(1), response: responses[name] ?? {} };
  }

  private validator(pointer: string): ValidateFunction {
    let v = this.validators.get(pointer);
    if (!v) {
      v = this.ajv.compile({ $ref: `openapi.json#${pointer}` });
      this.validators.set(pointer, v);
    }
    return v;
  }

  private validate(pointer: string, value: unknown, what: string): void {
    const v = this.validator(pointer);
    if (!v(value))
      throw new Error(
        `${what} breaks the spec (${pointer}): ${this.ajv.errorsText(v.errors)}\n${JSON.stringify(value).slice(0, 2000)}`,
      );
  }

  /** Reads `res` and throws unless the document says exactly this answer can happen. */
  async check(method: string, url: string, res: Response): Promise<Checked> {
    const path = new URL(url, 'http://x').pathname;
    const matches = this.templates.filter((t) => t.re.test(path));
    // A literal path wins over a templated one, as in OpenAPI (/console/settings.json, /console/{file}).
    const literal = matches.filter((t) => !t.template.includes('{'));
    const chosen = literal.length ? literal : matches;
    if (chosen.length !== 1) throw new Error(`${method} ${path}: ${chosen.length} path templates match`);
    const { template } = chosen[0];
    const m = method.toLowerCase();
    const op = (
      this.doc.paths as Record<string, Record<string, { responses: Record<string, ResponseObject> }>>
    )[template][m];
    const operation = `${method.toUpperCase()} ${template}`;
    if (!op) throw new Error(`${operation} is not in the spec`);
    const text = await res.text();
    const answer = op.responses[String(res.status)];
    if (!answer)
      throw new Error(`${operation} answered ${res.status}, not in the spec: ${text.slice(0, 500)}`);
    const base = `/paths/${token(template)}/${m}/responses/${res.status}`;
    const { pointer, response } = this.resolve(answer, base);
    const what = `${operation} → ${res.status}`;

    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0].trim();
    const content = response.content ?? {};
    if (!(mediaType in content))
      throw new Error(
        `${what}: content-type '${mediaType}' not in the spec (${Object.keys(content).join(', ')})`,
      );
    const shared = (this.doc.components as { headers?: Record<string, Json> }).headers ?? {};
    for (const [name, entry] of Object.entries(response.headers ?? {})) {
      const header = typeof entry.$ref === 'string' ? shared[entry.$ref.split('/').pop() as string] : entry;
      const { required, schema } = header as { required?: boolean; schema?: { const?: string } };
      const value = res.headers.get(name);
      if (required && value === null) throw new Error(`${what}: required header ${name} missing`);
      if (value !== null && schema?.const !== undefined && value !== schema.const)
        throw new Error(`${what}: header ${name} is '${value}', the spec says '${schema.const}'`);
    }
    let json: unknown = undefined;
    const at = `${pointer}/content/${token(mediaType)}`;
    if (mediaType === 'application/json') {
      json = JSON.parse(text);
      this.validate(`${at}/schema`, json, what);
    } else if (mediaType === 'application/jsonl') {
      const lines = text.split('\n').filter((l) => l !== '');
      lines.forEach((l, i) => this.validate(`${at}/x-item-schema`, JSON.parse(l), `${what} line ${i + 1}`));
    }
    this.seen.add(`${operation} ${res.status}`);
    return { operation, status: res.status, text, json };
  }
}
