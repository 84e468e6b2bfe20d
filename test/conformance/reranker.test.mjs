// Reranker test server vs. the official Cohere SDK (cohere-ai: CohereClientV2
// for /v2/rerank, CohereClient for /v1/rerank, and the SDK's own response
// schema, strict), plus text-embeddings-inference's /rerank against its
// documented schema (wire-formats.md section 6): scores, order, errors and
// their status codes, auth, faults.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { CohereClient, CohereClientV2, Cohere } from 'cohere-ai';
import { startServers } from './harness.mjs';
import { COHERE_MAX_DOCUMENTS, MAX_CLIENT_BATCH_SIZE, logits, sigmoid } from '../servers/reranker.mjs';

// the SDK's response schema, which its client skips (skipValidation): read
// by path, since the package exports only its entry points
const require = createRequire(import.meta.url);
const { V2RerankResponse } = require('../node_modules/cohere-ai/serialization/resources/v2/types/V2RerankResponse.js');

const KEY = 'rerank-conf-key';
let srv;
let co;
before(async () => {
  srv = await startServers({ RERANK_API_KEY: KEY });
  co = new CohereClientV2({ token: KEY, environment: srv.reranker, maxRetries: 0 });
});
after(async () => { await srv?.stop(); });

const QUERY = 'billing refund policy';
const DOCS = [
  'Weather report\nRain and wind all week.',
  'Refund policy\nHow billing refunds are approved.',
  'Office party',
  'Billing errors in March.',
  'Billing refund policy\nA billing refund is paid back within 30 days: the refund policy.',
];

// the expected order: best first, ties by index
const expected = (scores) => scores.map((s, i) => [i, s]).sort((a, b) => b[1] - a[1] || a[0] - b[0]);

const lastLogged = async () => (await (await fetch(`${srv.reranker}/__log`)).json()).at(-1);

describe('Cohere /v2/rerank with the official SDK', () => {
  test('every document scored, best first, the scores the documented BM25 logistic', async () => {
    const r = await co.rerank({ model: 'rerank-v3.5', query: QUERY, documents: DOCS });
    const want = expected(logits(QUERY, DOCS).map(sigmoid));
    assert.deepEqual(r.results.map((x) => x.index), want.map(([i]) => i));
    r.results.forEach((x, n) => {
      assert.ok(Math.abs(x.relevanceScore - want[n][1]) < 1e-12);
      assert.ok(x.relevanceScore > 0 && x.relevanceScore < 1);
    });
    assert.equal(r.results[0].index, 4);
    assert.equal(typeof r.id, 'string');
    assert.equal(r.meta.apiVersion.version, '2');
    const logged = await lastLogged();
    assert.equal(logged.path, '/v2/rerank');
    assert.equal(logged.auth, 'bearer');
    assert.deepEqual(logged.body, { model: 'rerank-v3.5', query: QUERY, documents: DOCS });
  });

  test('the raw answer passes the SDK schema with unknown keys refused', async () => {
    const res = await fetch(`${srv.reranker}/v2/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'rerank-v3.5', query: QUERY, documents: DOCS }),
    });
    assert.equal(res.status, 200);
    const parsed = V2RerankResponse.parse(await res.json(), { unrecognizedObjectKeys: 'fail' });
    assert.ok(parsed.ok, JSON.stringify(parsed.errors));
  });

  test('topN keeps the best n; more than the documents gives them all', async () => {
    const r = await co.rerank({ model: 'rerank-v3.5', query: QUERY, documents: DOCS, topN: 2 });
    assert.deepEqual(r.results.map((x) => x.index), [4, 1]);
    const all = await co.rerank({ model: 'rerank-v3.5', query: QUERY, documents: DOCS, topN: 50 });
    assert.equal(all.results.length, DOCS.length);
    assert.equal((await lastLogged()).body.top_n, 50);
  });

  test('no overlap ties: in the order of the documents', async () => {
    const r = await co.rerank({ model: 'rerank-v3.5', query: 'zebra', documents: ['a b', 'c d', 'e f'] });
    assert.deepEqual(r.results.map((x) => x.index), [0, 1, 2]);
    assert.ok(r.results.every((x) => x.relevanceScore === sigmoid(-2)));
  });

  test('errors: the SDK error classes, Cohere\'s {"message"} bodies', async () => {
    const wrong = new CohereClientV2({ token: 'nope', environment: srv.reranker, maxRetries: 0 });
    const e401 = await wrong.rerank({ model: 'rerank-v3.5', query: QUERY, documents: DOCS }).catch((x) => x);
    assert.ok(e401 instanceof Cohere.UnauthorizedError, String(e401));
    assert.equal(e401.statusCode, 401);
    assert.equal(e401.body.message, 'invalid api token');
    assert.ok(!JSON.stringify(e401.body).includes('nope'), 'the key is never echoed');
    const e404 = await co.rerank({ model: 'rerank-v9', query: QUERY, documents: DOCS }).catch((x) => x);
    assert.ok(e404 instanceof Cohere.NotFoundError, String(e404));
    assert.match(e404.body.message, /model 'rerank-v9' not found/);
    const empty = await co.rerank({ model: 'rerank-v3.5', query: QUERY, documents: [] }).catch((x) => x);
    assert.ok(empty instanceof Cohere.BadRequestError, String(empty));
    assert.match(empty.body.message, /documents must not be empty/);
    const noQuery = await co.rerank({ model: 'rerank-v3.5', query: ' ', documents: DOCS }).catch((x) => x);
    assert.ok(noQuery instanceof Cohere.BadRequestError, String(noQuery));
    const badTop = await co.rerank({ model: 'rerank-v3.5', query: QUERY, documents: DOCS, topN: 0 }).catch((x) => x);
    assert.ok(badTop instanceof Cohere.BadRequestError, String(badTop));
    const tooMany = Array.from({ length: COHERE_MAX_DOCUMENTS + 1 }, (_, i) => `doc ${i}`);
    const e400 = await co.rerank({ model: 'rerank-v3.5', query: QUERY, documents: tooMany }).catch((x) => x);
    assert.ok(e400 instanceof Cohere.BadRequestError, String(e400));
    assert.match(e400.body.message, /too many documents/);
  });

  test('a request without a model is refused by v2 (the SDK requires one too)', async () => {
    const res = await fetch(`${srv.reranker}/v2/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ query: QUERY, documents: DOCS }),
    });
    assert.equal(res.status, 400);
    assert.match((await res.json()).message, /model is required/);
  });

  test('injected faults: status codes through the SDK classes, bodies it cannot read', async () => {
    const via = (spec) => new CohereClientV2({ token: KEY, environment: `${srv.reranker}/__fault/${spec}`, maxRetries: 0 });
    const args = { model: 'rerank-v3.5', query: QUERY, documents: DOCS };
    const e429 = await via('status=429').rerank(args).catch((x) => x);
    assert.ok(e429 instanceof Cohere.TooManyRequestsError, String(e429));
    assert.equal(typeof e429.body.message, 'string');
    const e500 = await via('status=500').rerank(args).catch((x) => x);
    assert.ok(e500 instanceof Cohere.InternalServerError, String(e500));
    const e503 = await via('status=503').rerank(args).catch((x) => x);
    assert.ok(e503 instanceof Cohere.ServiceUnavailableError, String(e503));
    // the SDK 8.1 neither throws nor gives results for a body that is not
    // JSON: a caller has to check (the extension's decoder refuses it)
    const bad = await via('malformed').rerank(args).catch((x) => x);
    assert.ok(!Array.isArray(bad?.results), 'no results from a malformed body');
    // dupids: every result twice (what the extension refuses)
    const dup = await via('dupids').rerank(args);
    assert.equal(dup.results.length, 2 * DOCS.length);
    assert.equal(dup.results[0].index, dup.results[1].index);
  });
});

describe('Cohere /v1/rerank (the older path) with the v1 client', () => {
  test('the same scores; return_documents echoes the texts', async () => {
    const v1 = new CohereClient({ token: KEY, environment: srv.reranker, maxRetries: 0 });
    const r = await v1.rerank({ model: 'rerank-v3.5', query: QUERY, documents: DOCS, returnDocuments: true });
    const want = expected(logits(QUERY, DOCS).map(sigmoid));
    assert.deepEqual(r.results.map((x) => x.index), want.map(([i]) => i));
    r.results.forEach((x) => assert.equal(x.document.text, DOCS[x.index]));
    assert.equal((await lastLogged()).path, '/v1/rerank');
  });
});

describe('text-embeddings-inference /rerank (its documented schema)', () => {
  const tei = (body, { auth = `Bearer ${KEY}`, ctype = 'application/json', prefix = '' } = {}) => fetch(`${srv.reranker}${prefix}/rerank`, {
    method: 'POST',
    headers: { ...(ctype ? { 'content-type': ctype } : {}), ...(auth ? { authorization: auth } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

  test('a bare array of {index, score}, best first; raw_scores gives the logits; return_text the texts', async () => {
    const res = await tei({ query: QUERY, texts: DOCS });
    assert.equal(res.status, 200);
    const r = await res.json();
    assert.ok(Array.isArray(r));
    const want = expected(logits(QUERY, DOCS).map(sigmoid));
    assert.deepEqual(r, want.map(([index, score]) => ({ index, score })));
    const raw = await (await tei({ query: QUERY, texts: DOCS, raw_scores: true })).json();
    assert.deepEqual(raw.map((x) => x.score), expected(logits(QUERY, DOCS)).map(([, s]) => s));
    const text = await (await tei({ query: QUERY, texts: DOCS, return_text: true, truncate: true })).json();
    text.forEach((x) => assert.equal(x.text, DOCS[x.index]));
  });

  test('errors: TEI\'s {"error", "error_type"} with its status per type, axum\'s rejections', async () => {
    const empty = await tei({ query: QUERY, texts: [] });
    assert.equal(empty.status, 400);
    assert.deepEqual(await empty.json(), { error: '`texts` cannot be empty', error_type: 'empty' });
    const big = await tei({ query: QUERY, texts: Array(MAX_CLIENT_BATCH_SIZE + 1).fill('x') });
    assert.equal(big.status, 413);
    assert.equal((await big.json()).error_type, 'validation');
    const ok = await tei({ query: QUERY, texts: Array(MAX_CLIENT_BATCH_SIZE).fill('x') });
    assert.equal(ok.status, 200);
    const noQuery = await tei({ texts: DOCS });
    assert.equal(noQuery.status, 422);
    assert.match(await noQuery.text(), /missing field `query`/);
    const notJson = await tei('{"query": ');
    assert.equal(notJson.status, 400);
    const noCtype = await tei({ query: QUERY, texts: DOCS }, { ctype: null });
    assert.equal(noCtype.status, 415);
    const noAuth = await tei({ query: QUERY, texts: DOCS }, { auth: null });
    assert.equal(noAuth.status, 401);
    assert.equal(await noAuth.text(), '');
  });

  test('injected faults: TEI error bodies per status, malformed and duplicated answers', async () => {
    const e429 = await tei({ query: QUERY, texts: DOCS }, { prefix: '/__fault/status=429' });
    assert.equal(e429.status, 429);
    assert.equal((await e429.json()).error_type, 'overloaded');
    const e503 = await tei({ query: QUERY, texts: DOCS }, { prefix: '/__fault/status=503' });
    assert.equal((await e503.json()).error_type, 'unhealthy');
    const bad = await tei({ query: QUERY, texts: DOCS }, { prefix: '/__fault/malformed' });
    await assert.rejects(bad.json());
    const dup = await (await tei({ query: QUERY, texts: DOCS }, { prefix: '/__fault/dupids' })).json();
    assert.equal(dup.length, 2 * DOCS.length);
    const nan = await (await tei({ query: QUERY, texts: DOCS }, { prefix: '/__fault/nan' })).text();
    assert.match(nan, /"score":NaN/);
  });
});
