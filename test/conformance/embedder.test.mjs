// Embedder test server vs. the official OpenAI SDK, plus the Ollama dialect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServers } from './harness.mjs';
import { embed } from '../servers/embed.mjs';

const KEY = 'sk-test-embed-key';
let srv;
let openai;
before(async () => {
  srv = await startServers({ EMBED_API_KEY: KEY, EMBED_DIM: '32' });
  openai = new OpenAI({ baseURL: `${srv.embedder}/v1`, apiKey: KEY, maxRetries: 0 });
});
after(async () => { await srv?.stop(); });

const near = (a, b) => {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-6, `component ${i}: ${x} vs ${b[i]}`));
};

describe('openai-compatible /v1/embeddings with the official SDK', () => {
  const texts = ['Discussed the Q3 roadmap with Sarah', 'billing migration cutover'];

  test('default request (SDK asks for base64) decodes to embed()', async () => {
    const r = await openai.embeddings.create({ model: 'test-embed', input: texts });
    assert.equal(r.object, 'list');
    assert.equal(r.model, 'test-embed');
    assert.equal(r.data.length, 2);
    r.data.forEach((d, i) => {
      assert.equal(d.index, i);
      near(d.embedding, embed(texts[i], 32));
    });
    assert.ok(r.usage.prompt_tokens > 0);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens);
    const logged = await (await fetch(`${srv.embedder}/__log`)).json();
    assert.equal(logged.at(-1).body.encoding_format, 'base64');
  });

  test('encoding_format float gives the same vectors as base64', async () => {
    const f = await openai.embeddings.create({ model: 'test-embed', input: texts[0], encoding_format: 'float' });
    const b = await openai.embeddings.create({ model: 'test-embed', input: texts[0] });
    assert.deepEqual(f.data[0].embedding, b.data[0].embedding); // both float32-exact
    near(f.data[0].embedding, embed(texts[0], 32));
    let n = 0;
    for (const x of f.data[0].embedding) n += x * x;
    assert.ok(Math.abs(n - 1) < 1e-5);
  });

  test('dimensions truncates and re-normalises; too many -> 400', async () => {
    const r = await openai.embeddings.create({ model: 'test-embed', input: 'sarah roadmap latency budget', dimensions: 8, encoding_format: 'float' });
    const full = embed('sarah roadmap latency budget', 32).slice(0, 8);
    const n = Math.hypot(...full);
    near(r.data[0].embedding, full.map((x) => (n ? x / n : 0)));
    await assert.rejects(openai.embeddings.create({ model: 'test-embed', input: 'x', dimensions: 33 }), OpenAI.BadRequestError);
  });

  // issue 13 item 1: apex_route_many sends the texts of a batch in one
  // request, as the SDK's array input does
  test('array input: one embedding per text, in order, data[i].index = i, duplicates kept', async () => {
    const many = ['billing migration', 'Sarah roadmap', 'incident postmortem', 'billing migration'];
    // the SDK decodes base64 when it chose it (encoding_format not given)
    for (const encoding_format of [undefined, 'float']) {
      const r = await openai.embeddings.create({ model: 'test-embed', input: many, encoding_format });
      assert.deepEqual(r.data.map((d) => d.index), [0, 1, 2, 3]);
      r.data.forEach((d, i) => near(d.embedding, embed(many[i], 32)));
      assert.deepEqual(r.data[3].embedding, r.data[0].embedding);
    }
  });

  test('array limits: 2048 inputs taken, 2049 or over 300,000 tokens -> BadRequestError', async () => {
    const texts = Array.from({ length: 2048 }, (_, i) => `question ${i}`);
    const r = await openai.embeddings.create({ model: 'test-embed', input: texts });
    assert.equal(r.data.length, 2048);
    assert.equal(r.data[2047].index, 2047);
    near(r.data[2047].embedding, embed('question 2047', 32));
    const over = await openai.embeddings.create({ model: 'test-embed', input: [...texts, 'one more'] }).catch((x) => x);
    assert.ok(over instanceof OpenAI.BadRequestError, String(over));
    assert.equal(over.param, 'input');
    const long = 'word '.repeat(150001);
    const tokens = await openai.embeddings.create({ model: 'test-embed', input: [long, long] }).catch((x) => x);
    assert.ok(tokens instanceof OpenAI.BadRequestError, String(tokens));
    assert.match(tokens.message, /Requested 300002 tokens, max 300000 tokens per request/);
  });

  test('unknown model -> NotFoundError with model_not_found', async () => {
    const e = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }).catch((x) => x);
    assert.ok(e instanceof OpenAI.NotFoundError, String(e));
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
  });

  test('wrong key -> AuthenticationError (invalid_api_key), key not echoed', async () => {
    const bad = new OpenAI({ baseURL: `${srv.embedder}/v1`, apiKey: 'sk-wrong-secret', maxRetries: 0 });
    const e = await bad.embeddings.create({ model: 'test-embed', input: 'x' }).catch((x) => x);
    assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
    assert.equal(e.code, 'invalid_api_key');
    assert.ok(!JSON.stringify(e.error).includes('sk-wrong-secret'));
    const raw = await fetch(`${srv.embedder}/v1/embeddings`, { method: 'POST', body: '{"model":"test-embed","input":"x"}' });
    assert.equal(raw.status, 401);
    assert.deepEqual(Object.keys((await raw.json()).error), ['message', 'type', 'param', 'code']);
  });
});

describe('ollama /api/embed', () => {
  test('string and array input', async () => {
    const r = await fetch(`${srv.embedder}/api/embed`, { method: 'POST', body: JSON.stringify({ model: 'test-embed', input: ['sarah', 'roadmap'] }) });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.equal(j.model, 'test-embed');
    assert.equal(j.embeddings.length, 2);
    near(j.embeddings[1], embed('roadmap', 32));
    assert.equal(j.prompt_eval_count, 2);
    for (const k of ['total_duration', 'load_duration']) assert.equal(typeof j[k], 'number');
    const one = await (await fetch(`${srv.embedder}/api/embed`, { method: 'POST', body: '{"model":"test-embed","input":"sarah"}' })).json();
    assert.deepEqual(one.embeddings, [j.embeddings[0]]);
  });

  // issue 13 item 1: Ollama answers an array in its order, with no cap on
  // its length (no client of its own in test/node_modules: plain fetch)
  test('array input: in order, duplicates kept, more than 2048 taken', async () => {
    const texts = Array.from({ length: 2049 }, (_, i) => `question ${i % 7}`);
    const r = await fetch(`${srv.embedder}/api/embed`, { method: 'POST', body: JSON.stringify({ model: 'test-embed', input: texts }) });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.equal(j.embeddings.length, 2049);
    for (const i of [0, 1, 6, 7, 2048]) near(j.embeddings[i], embed(texts[i], 32));
    assert.deepEqual(j.embeddings[7], j.embeddings[0]);
  });

  test('unknown model -> 404, missing input -> 400, {"error": string}', async () => {
    const nf = await fetch(`${srv.embedder}/api/embed`, { method: 'POST', body: '{"model":"all-minilm","input":"x"}' });
    assert.equal(nf.status, 404);
    assert.deepEqual(await nf.json(), { error: "model 'all-minilm' not found, try pulling it first" });
    const mi = await fetch(`${srv.embedder}/api/embed`, { method: 'POST', body: '{"model":"test-embed"}' });
    assert.equal(mi.status, 400);
    assert.equal(typeof (await mi.json()).error, 'string');
  });
});

// issue 11 "Also"; origin: ollama/ollama#7490 (an /api/embed body sent to /api/embeddings answers {"embedding":[]})
// issue 11 "Also"; origin: ollama/ollama#6533 (the maintainers: /api/embeddings is deprecated, use /api/embed)
// Ollama's deprecated endpoint, as its EmbeddingsHandler answers (issue 11:
// an embedder pointed at it must be told to use /api/embed)
describe('ollama /api/embeddings (deprecated)', () => {
  test('prompt -> {"embedding"}; no prompt (an /api/embed body) -> {"embedding": []}', async () => {
    const r = await fetch(`${srv.embedder}/api/embeddings`, { method: 'POST', body: '{"model":"test-embed","prompt":"sarah"}' });
    assert.equal(r.status, 200);
    const j = await r.json();
    near(j.embedding, embed('sarah', 32));
    const empty = await fetch(`${srv.embedder}/api/embeddings`, { method: 'POST', body: '{"model":"test-embed","input":"sarah"}' });
    assert.equal(empty.status, 200);
    assert.deepEqual(await empty.json(), { embedding: [] });
    const nf = await fetch(`${srv.embedder}/api/embeddings`, { method: 'POST', body: '{"model":"all-minilm","prompt":"x"}' });
    assert.equal(nf.status, 404);
    assert.deepEqual(await nf.json(), { error: "model 'all-minilm' not found, try pulling it first" });
  });
});
