// Qdrant test server vs. the official @qdrant/js-client-rest, used unchanged.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';
// @qdrant/js-client-rest 1.19 dropped legacy.search() (POST /points/search is
// deprecated upstream); 1.18.0, the last release that has it, is installed
// under an alias to exercise that endpoint with an official client too.
import { QdrantClient as QdrantClientWithSearch } from 'qdrant-client-with-search';
import { cosine, startServers } from './harness.mjs';
import { embed } from '../servers/embed.mjs';
import { loadCorpus } from '../servers/corpus.mjs';

const KEY = 'qdrant-test-key';
const corpus = loadCorpus();
let srv;
let client;
let legacy;

// The client warns that an API key travels over http: expected here.
const warn = console.warn;
before(async () => {
  console.warn = () => {};
  srv = await startServers({ QDRANT_API_KEY: KEY });
  client = new QdrantClient({ url: srv.qdrant, apiKey: KEY, checkCompatibility: false });
  legacy = new QdrantClientWithSearch({ url: srv.qdrant, apiKey: KEY, checkCompatibility: false });
});
after(async () => { console.warn = warn; await srv?.stop(); });

async function rejectsWithStatus(promise, status) {
  const err = await promise.then(() => null, (e) => e);
  assert.ok(err, `expected a rejection with status ${status}`);
  assert.equal(err.status, status, `status of ${err}`);
  return err;
}

describe('qdrant with the official client', () => {
  test('getCollections lists the fixture collections', async () => {
    const r = await client.getCollections();
    assert.deepEqual(r.collections.map((c) => c.name), ['memory', 'langchain', 'tenants', 'eval']);
  });

  // issue 15 item 1: a user's scope as a match filter, the call's time range
  // as a datetime range (Qdrant >= 1.8: RFC 3339 bounds over payload strings)
  test('the tenants collection: a user filter and a datetime range', async () => {
    const q = embed('Sarah budget', 64);
    const scoped = (filter) => client.query('tenants', { query: q, limit: 20, with_payload: true, filter })
      .then((r) => r.points.map((p) => p.payload.doc_id).sort());
    const alice = { key: 'user_id', match: { value: 'alice' } };
    assert.deepEqual(await scoped({ must: [alice] }), ['t-alice-1', 't-alice-2', 't-alice-3']);
    assert.deepEqual(await scoped({ must: [alice, { key: 'created_at', range: { gte: '2026-10-01T00:00:00Z' } }] }),
      ['t-alice-2', 't-alice-3']);
    assert.deepEqual(await scoped({ must: [alice, { key: 'created_at', range: { lt: '2026-10-20T09:30:00.000000Z' } }] }),
      ['t-alice-1']);
    await rejectsWithStatus(client.query('tenants', { query: q, limit: 5,
      filter: { must: [{ key: 'created_at', range: { gte: 'last week' } }] } }), 400);
  });

  // issue 11 item 5; origin: langchain-ai/langchain#26215 (fields inside LangChain's "metadata" object)
  // issue 11 item 5; origin: neo4j/neo4j-graphrag-python#453 (the id is nested in the payload, e.g. metadata.uid)
  test('the langchain collection: UUID ids, nested payloads, nested filter keys', async () => {
    const q = embed('billing migration', 64);
    const r = await client.query('langchain', { query: q, limit: corpus.length, with_payload: true });
    assert.equal(r.points.length, corpus.length);
    for (const p of r.points) {
      assert.match(String(p.id), /^00000000-0000-4000-8000-\d{12}$/);
      assert.equal(typeof p.payload.page_content, 'string');
    }
    const ids = r.points.map((p) => p.payload.metadata.doc_id).filter((id) => typeof id === 'string');
    assert.equal(ids.length, corpus.length - 2);
    const persons = await client.query('langchain', {
      query: q, limit: corpus.length, with_payload: true,
      filter: { must: [{ key: 'metadata.kind', match: { value: 'person' } }] },
    });
    assert.equal(persons.points.length, corpus.filter((it) => it.kind === 'person').length);
  });

  test('getCollection returns a realistic CollectionInfo', async () => {
    const info = await client.getCollection('memory');
    assert.equal(info.status, 'green');
    assert.equal(info.points_count, corpus.length);
    assert.deepEqual(info.config.params.vectors, { size: 64, distance: 'Cosine' });
  });

  test('query on the corpus equals brute-force cosine, best first', async () => {
    const q = embed('Sarah roadmap latency', 64);
    const r = await client.query('memory', { query: q, limit: 8, with_payload: true });
    const expected = corpus.map((it, i) => ({ id: i + 1, doc: it.id, s: cosine(q, embed(`${it.title} ${it.text}`, 64)) }))
      .sort((a, b) => b.s - a.s || a.id - b.id).slice(0, 8);
    assert.equal(r.points.length, 8);
    r.points.forEach((p, i) => {
      assert.equal(p.id, expected[i].id);
      assert.ok(Math.abs(p.score - expected[i].s) < 1e-5, `score ${p.score} vs ${expected[i].s}`);
      assert.equal(p.payload.doc_id, expected[i].doc);
      assert.equal(typeof p.version, 'number');
      assert.equal(p.vector, undefined);
    });
    for (let i = 1; i < r.points.length; i++) assert.ok(r.points[i - 1].score >= r.points[i].score);
  });

  test('query without with_payload has no payload; filter and with_vector work', async () => {
    const q = embed('decision', 64);
    const plain = await client.query('memory', { query: { nearest: q }, limit: 3 });
    assert.ok(plain.points.every((p) => !('payload' in p)));
    const filtered = await client.query('memory', {
      query: q, limit: 50, with_payload: ['kind'], with_vector: true,
      filter: { must: [{ key: 'kind', match: { value: 'decision' } }] },
    });
    assert.equal(filtered.points.length, corpus.filter((c) => c.kind === 'decision').length);
    for (const p of filtered.points) {
      assert.deepEqual(Object.keys(p.payload), ['kind']);
      assert.equal(p.payload.kind, 'decision');
      assert.equal(p.vector.length, 64);
    }
  });

  test('createCollection, upsert with int and UUID ids, query and search', async () => {
    assert.equal(await client.createCollection('scratch', { vectors: { size: 4, distance: 'Cosine' } }), true);
    const dup = await rejectsWithStatus(client.createCollection('scratch', { vectors: { size: 4, distance: 'Cosine' } }), 409);
    assert.equal(dup.data.status.error, 'Wrong input: Collection `scratch` already exists!');
    const uuid = '5C56C793-69F3-4FBF-87E6-C4BF54C28C26';
    const points = [
      { id: 1, vector: [1, 0, 0, 0], payload: { name: 'x' } },
      { id: 2, vector: [0.7, 0.7, 0, 0], payload: { name: 'xy' } },
      { id: uuid, vector: [0, 0, 1, 0.1], payload: { name: 'z' } },
      { id: 3, vector: [-1, 0.2, 0, 0], payload: { name: 'minus x' } },
    ];
    const up = await client.upsert('scratch', { wait: true, points });
    assert.equal(up.status, 'completed');
    assert.equal(typeof up.operation_id, 'number');

    const q = [0.9, 0.3, 0.1, 0];
    const brute = points.map((p) => ({ id: typeof p.id === 'string' ? p.id.toLowerCase() : p.id, s: cosine(q, p.vector) }))
      .sort((a, b) => b.s - a.s);
    const r = await client.query('scratch', { query: q, with_payload: true });
    assert.deepEqual(r.points.map((p) => p.id), brute.map((b) => b.id));
    r.points.forEach((p, i) => assert.ok(Math.abs(p.score - brute[i].s) < 1e-6));
    assert.equal(r.points.find((p) => p.id === uuid.toLowerCase()).payload.name, 'z');

    const s = await legacy.search('scratch', { vector: q, limit: 2 });
    assert.ok(Array.isArray(s));
    assert.deepEqual(s.map((p) => p.id), brute.slice(0, 2).map((b) => b.id));
    assert.deepEqual(s.map((p) => p.payload.name), brute.slice(0, 2).map((b) => points.find((x) => String(x.id).toLowerCase() === String(b.id)).payload.name)); // client default with_payload=true
    const bare = await legacy.search('scratch', { vector: q, limit: 1, with_payload: false });
    assert.ok(bare.every((p) => !('payload' in p)));
    const thr = await legacy.search('scratch', { vector: q, limit: 10, score_threshold: 0.5 });
    assert.deepEqual(thr.map((p) => p.id), brute.filter((b) => b.s >= 0.5).map((b) => b.id));
  });

  test('createPayloadIndex (docs/deploy.md): the index in the collection info; an unknown schema refused', async () => {
    await client.createCollection('indexed', { vectors: { size: 4, distance: 'Cosine' } });
    const r = await client.createPayloadIndex('indexed', { field_name: 'doc_id', field_schema: 'keyword', wait: true });
    assert.equal(r.status, 'completed');
    const info = await client.getCollection('indexed');
    assert.equal(info.payload_schema.doc_id.data_type, 'keyword');
    await rejectsWithStatus(client.createPayloadIndex('indexed', { field_name: 'x', field_schema: 'words' }), 400);
    await rejectsWithStatus(client.createPayloadIndex('no_such', { field_name: 'x', field_schema: 'keyword' }), 404);
    await client.deleteCollection('indexed');
  });

  test('named vectors: upsert and query with using', async () => {
    await client.createCollection('named', { vectors: { dense: { size: 3, distance: 'Dot' } } });
    await client.upsert('named', { wait: true, points: [{ id: 10, vector: { dense: [1, 2, 3] } }, { id: 11, vector: { dense: [3, 2, 1] } }] });
    const r = await client.query('named', { query: [1, 0, 0], using: 'dense', limit: 2 });
    assert.deepEqual(r.points.map((p) => [p.id, p.score]), [[11, 3], [10, 1]]);
    const s = await legacy.search('named', { vector: { name: 'dense', vector: [0, 0, 1] }, limit: 1 });
    assert.deepEqual(s.map((p) => p.id), [10]);
    // with_vector (apex_router's with_vectors): named vectors come as an
    // object, by name; a list of names returns those alone
    const v = await client.query('named', { query: [1, 0, 0], using: 'dense', limit: 1, with_vector: ['dense'] });
    assert.deepEqual(v.points[0].vector, { dense: [3, 2, 1] });
    const all = await legacy.search('named', { vector: { name: 'dense', vector: [1, 0, 0] }, limit: 1, with_vector: true });
    assert.deepEqual(all[0].vector, { dense: [3, 2, 1] });
  });

  test('with_vector on an unnamed Cosine collection: the stored, normalised vector', async () => {
    await client.createCollection('unit', { vectors: { size: 2, distance: 'Cosine' } });
    await client.upsert('unit', { wait: true, points: [{ id: 1, vector: [3, 4] }] });
    const r = await client.query('unit', { query: [1, 0], limit: 1, with_vector: true });
    assert.deepEqual(r.points[0].vector.map((x) => Math.round(x * 1e6) / 1e6), [0.6, 0.8]);
    const bare = await client.query('unit', { query: [1, 0], limit: 1 });
    assert.ok(!('vector' in bare.points[0]));
  });

  test('errors: 404 missing collection, 400 dimension, 422 limit 0', async () => {
    const nf = await rejectsWithStatus(client.getCollection('nope'), 404);
    assert.equal(nf.data.status.error, 'Not found: Collection `nope` doesn\'t exist!');
    assert.equal(nf.data.result, undefined);
    await rejectsWithStatus(client.query('nope', { query: embed('x', 64) }), 404);
    const dim = await rejectsWithStatus(legacy.search('memory', { vector: [1, 2, 3], limit: 1 }), 400);
    assert.equal(dim.data.status.error, 'Wrong input: Vector dimension error: expected dim: 64, got 3');
    const lim = await rejectsWithStatus(client.query('memory', { query: embed('x', 64), limit: 0 }), 422);
    assert.match(lim.data.status.error, /^Validation error in JSON body: /);
  });

  test('auth: wrong key -> 401, missing key -> 401 plain text, health needs no key', async () => {
    const bad = new QdrantClient({ url: srv.qdrant, apiKey: 'wrong', checkCompatibility: false });
    const e = await rejectsWithStatus(bad.getCollections(), 401);
    assert.equal(e.data, 'Invalid API key or JWT');
    const r = await fetch(`${srv.qdrant}/collections`);
    assert.equal(r.status, 401);
    assert.equal(await r.text(), 'Must provide an API key or an Authorization bearer token');
    const bearer = await fetch(`${srv.qdrant}/collections`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(bearer.status, 200);
    const h = await fetch(`${srv.qdrant}/healthz`);
    assert.equal(await h.text(), 'healthz check passed');
    const root = await (await fetch(`${srv.qdrant}/`)).json();
    assert.equal(root.title, 'qdrant - vector search engine');
    assert.match(root.version, /^1\.\d+\.\d+$/);
  });

  test('raw envelopes: bad JSON -> 400 format error, success has status/time', async () => {
    const h = { 'api-key': KEY, 'content-type': 'application/json' };
    const bad = await fetch(`${srv.qdrant}/collections/memory/points/query`, { method: 'POST', headers: h, body: '{"query": [' });
    assert.equal(bad.status, 400);
    const bj = await bad.json();
    assert.match(bj.status.error, /^Format error in JSON body: /);
    assert.equal(typeof bj.time, 'number');
    assert.ok(!('result' in bj));
    const ok = await fetch(`${srv.qdrant}/collections/memory/points/search`, {
      method: 'POST', headers: h, body: JSON.stringify({ vector: embed('billing', 64), limit: 2, with_payload: { exclude: ['text'] } }),
    });
    assert.equal(ok.headers.get('content-type'), 'application/json');
    const oj = await ok.json();
    assert.equal(oj.status, 'ok');
    assert.ok(Array.isArray(oj.result));
    assert.ok(oj.result.every((p) => !('text' in p.payload) && 'title' in p.payload));
    const noLimit = await fetch(`${srv.qdrant}/collections/memory/points/search`, { method: 'POST', headers: h, body: JSON.stringify({ vector: embed('x', 64) }) });
    assert.equal(noLimit.status, 400);
  });
});
