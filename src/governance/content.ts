/** The generated text of one 2xx answer, as output checks see it. */
export interface AnswerContent {
  /** The text ('' when the answer carries none, e.g. a refusal or only tool calls). */
  text: string;
  /** The model stopped at its token limit, so the text is cut short. */
  truncated: boolean;
}

type Json = Record<string, unknown>;
const asObject = (v: unknown): Json | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;

function firstChoice(body: unknown): Json | undefined {
  const choices = asObject(body)?.choices;
  return Array.isArray(choices) ? asObject(choices[0]) : undefined;
}

/** Chat completions: `choices[0].message.content` (a string, or text parts joined). */
export function chatContent(body: unknown): AnswerContent {
  const choice = firstChoice(body);
  const content = asObject(choice?.message)?.content;
  let text = '';
  if (typeof content === 'string') text = content;
  else if (Array.isArray(content))
    for (const part of content) {
      const t = asObject(part)?.text;
      if (typeof t === 'string') text += t;
    }
  return { text, truncated: choice?.finish_reason === 'length' };
}

/** Legacy completions: `choices[0].text`. */
export function completionContent(body: unknown): AnswerContent {
  const choice = firstChoice(body);
  const text = typeof choice?.text === 'string' ? choice.text : '';
  return { text, truncated: choice?.finish_reason === 'length' };
}

/** Responses API: every `output_text` part of every output message, joined (the SDKs' `output_text`). */
export function responsesContent(body: unknown): AnswerContent {
  const obj = asObject(body);
  let text = '';
  if (Array.isArray(obj?.output))
    for (const item of obj.output) {
      const parts = asObject(item)?.content;
      if (!Array.isArray(parts)) continue;
      for (const part of parts) {
        const p = asObject(part);
        if (p?.type === 'output_text' && typeof p.text === 'string') text += p.text;
      }
    }
  return { text, truncated: obj?.status === 'incomplete' };
}

/** How to find the generated text for an endpoint; null for endpoints without any (embeddings, moderations). */
export function contentExtractor(endpoint: string): ((body: unknown) => AnswerContent) | null {
  switch (endpoint) {
    case '/v1/chat/completions':
      return chatContent;
    case '/v1/completions':
      return completionContent;
    case '/v1/responses':
      return responsesContent;
    default:
      return null;
  }
}
