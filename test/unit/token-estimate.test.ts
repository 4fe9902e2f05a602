import { getEncoding } from 'js-tiktoken';
import { describe, expect, it } from 'vitest';
import { countRequestTokens, estimateRequestTokens } from '../../src/gateway/token-estimate';

// The reference: js-tiktoken's own o200k_base encoding (the gpt-4o family's tokenizer).
const o200k = getEncoding('o200k_base');
const tok = (s: string) => o200k.encode(s, [], []).length;

describe('estimateRequestTokens (o200k_base)', () => {
  it('counts chat messages (strings and text parts) with their framing, plus the output cap', async () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'You are terse.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'The quick brown fox jumps over the lazy dog.' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          ],
        },
      ],
      max_tokens: 50,
    };
    const text = tok('You are terse.') + tok('The quick brown fox jumps over the lazy dog.');
    // 3 per message and 3 to prime the reply, as OpenAI accounts for chat.
    expect(await estimateRequestTokens(JSON.stringify(body))).toBe(text + 2 * 3 + 3 + 50);
    expect(tok('The quick brown fox jumps over the lazy dog.')).toBe(10);
  });

  it('counts max_completion_tokens times n', async () => {
    const body = {
      model: 'o3',
      messages: [{ role: 'user', content: 'hello world' }],
      max_completion_tokens: 100,
      n: 2,
    };
    expect(await estimateRequestTokens(JSON.stringify(body))).toBe(2 + 3 + 3 + 200);
  });

  it('counts embeddings and completions input: strings, lists and token arrays', async () => {
    expect(await estimateRequestTokens(JSON.stringify({ model: 'e', input: 'hello world' }))).toBe(2);
    expect(await estimateRequestTokens(JSON.stringify({ model: 'e', input: ['hello world', 'hello'] }))).toBe(
      2 + tok('hello'),
    );
    expect(await estimateRequestTokens(JSON.stringify({ model: 'e', input: [1, 2, 3] }))).toBe(3);
    expect(await estimateRequestTokens(JSON.stringify({ model: 'e', input: [[1, 2], [3]] }))).toBe(3);
    expect(
      await estimateRequestTokens(JSON.stringify({ model: 'c', prompt: 'Summarise item 1', max_tokens: 7 })),
    ).toBe(6 + 7);
  });

  it('counts Responses API input items, instructions and max_output_tokens', async () => {
    const body = {
      model: 'gpt-4o',
      instructions: 'Be brief.',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'hello world' }] }],
      max_output_tokens: 20,
    };
    expect(await estimateRequestTokens(JSON.stringify(body))).toBe(tok('Be brief.') + 3 + 2 + 20);
  });

  it('counts special-token text as text and tolerates odd bodies', async () => {
    expect(await estimateRequestTokens(JSON.stringify({ input: '<|endoftext|>' }))).toBe(
      tok('<|endoftext|>'),
    );
    expect(await estimateRequestTokens('not json')).toBe(0);
    expect(countRequestTokens(null, tok)).toBe(0);
    expect(countRequestTokens({ messages: 'nope', input: { a: 1 }, max_tokens: -5 }, tok)).toBe(0);
  });
});
