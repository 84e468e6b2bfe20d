// Graphiti test server: POST /search and GET /healthcheck against the
// documented wire format (wire-formats.md section 5), the fact derivation
// documented in test/servers/graphiti.mjs, FastAPI's error shapes, bearer
// auth, faults and the request log.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServers } from './harness.mjs';
import { loadCorpus } from '../servers/corpus.mjs';
import { tokenize } from '../servers/embed.mjs';

const KEY = 'graphiti-conf-key';
let srv;
before(async () => { srv = await startServers({ GRAPHITI_API_KEY: KEY }); });
after(async () => { await srv?.stop(); });
beforeEach(async () => { await fetch(`${srv.graphiti}/__log`, { method: 'DELETE' }); });

const search = (body, { auth = `Bearer ${KEY}`, prefix = '' } = {}) => fetch(`${srv.graphiti}${prefix}/search`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

const FACT_KEYS = ['uuid', 'name', 'fact', 'valid_at', 'invalid_at', 'created_at', 'expired_at'];
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

// Expected ranking over the fact texts (= corpus texts), recomputed from the
// documented full-text formula; ties by corpus id.
function expectedIds(q, groupOf = () => true) {
  const corpus = loadCorpus();
  const docs = corpus.map((c) => tokenize(c.text));
  const terms = [...new Set(tokenize(q))];
  const N = docs.length;
  return corpus.map((c, i) => ({
    id: c.id,
    score: terms.reduce((s, t) => {
      const tf = docs[i].filter((x) => x === t).length;
      const df = docs.filter((d) => d.includes(t)).length;
      return tf ? s + (1 + Math.log(tf)) * Math.log(1 + N / df) : s;
    }, 0),
  })).filter((r) => r.score > 0 && groupOf(r.id))
    .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).map((r) => r.id);
}
const textOf = (id) => loadCorpus().find((c) => c.id === id).text;

describe('graphiti POST /search', () => {
  test('documented example: facts ranked best first, the documented fields, no score', async () => {
    const r = await search({ group_ids: ['team'], query: 'Sarah roadmap', max_facts: 10 });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    const j = await r.json();
    assert.deepEqual(Object.keys(j), ['facts']);
    const exp = expectedIds('Sarah roadmap').slice(0, 10);
    assert.equal(j.facts.length, 10);
    assert.deepEqual(j.facts.map((f) => f.fact), exp.map(textOf));
    for (const f of j.facts) {
      assert.deepEqual(Object.keys(f), FACT_KEYS);
      assert.match(f.uuid, UUID_RE);
      assert.match(f.name, /^[A-Z_]+$/);
      assert.match(f.valid_at, ISO_RE);
      assert.match(f.created_at, ISO_RE);
      for (const k of ['invalid_at', 'expired_at']) assert.ok(f[k] === null || ISO_RE.test(f[k]), `${k}: ${f[k]}`);
    }
    assert.equal(new Set(j.facts.map((f) => f.uuid)).size, 10);
  });

  test('the documented fact derivation: UUID v5, relation by kind, Python isoformat', async () => {
    const j = await (await search({ query: 'product lead', max_facts: 1 })).json();
    // uuid.uuid5(uuid.NAMESPACE_URL, 'apex-test:fact:m01') in Python
    assert.deepEqual(j.facts, [{
      uuid: 'f72632bd-1935-5cd8-9a08-65d07e73beae',
      name: 'WORKS_ON',
      fact: textOf('m01'),
      valid_at: '2026-10-01T09:00:00+00:00',
      invalid_at: null,
      created_at: '2026-10-01T09:00:00+00:00',
      expired_at: null,
    }]);
  });

  test('facts no longer true are returned with their timestamps (leaving them out is the client\'s job)', async () => {
    const j = await (await search({ query: 'Sarah roadmap', max_facts: 5 })).json();
    const byText = new Map(j.facts.map((f) => [f.fact, f]));
    const now = Date.now();
    const stale = j.facts.filter((f) => [f.invalid_at, f.expired_at].some((t) => t !== null && Date.parse(t) <= now));
    assert.deepEqual(stale.map((f) => f.fact), [textOf('m16'), textOf('m27')]);
    assert.equal(byText.get(textOf('m16')).invalid_at, '2026-10-25T12:00:00+00:00');
    assert.equal(byText.get(textOf('m27')).expired_at, '2026-10-30T00:00:05+00:00');
    // m34 becomes invalid only in 2099: still true
    assert.equal(byText.get(textOf('m34')).invalid_at, '2099-01-01T00:00:00+00:00');
    const m22 = (await (await search({ query: 'usage based pricing', max_facts: 1 })).json()).facts[0];
    assert.equal(m22.fact, textOf('m22'));
    assert.equal(m22.invalid_at, null);
    assert.equal(m22.expired_at, '2026-10-28T08:30:00+00:00');
  });

  test('groups: group_ids list, legacy group_id string, none or empty = every group', async () => {
    const q = 'third floor desks talks';
    const ids = async (body) => (await (await search({ query: q, ...body })).json()).facts.map((f) => f.fact);
    const other = new Set(['m36', 'm39']);
    assert.deepEqual(await ids({ group_ids: ['team'] }), expectedIds(q, (id) => !other.has(id)).map(textOf));
    assert.deepEqual(await ids({ group_ids: ['other'] }), expectedIds(q, (id) => other.has(id)).map(textOf));
    assert.equal((await ids({ group_ids: ['other'] })).length, 2);
    assert.deepEqual(await ids({ group_id: 'other' }), await ids({ group_ids: ['other'] }));
    assert.deepEqual(await ids({ group_ids: ['team', 'other'] }), expectedIds(q).map(textOf));
    assert.deepEqual(await ids({}), expectedIds(q).map(textOf));
    assert.deepEqual(await ids({ group_ids: [] }), expectedIds(q).map(textOf));
    assert.deepEqual(await ids({ group_ids: ['nobody'] }), []);
  });

  test('max_facts defaults to 10 and caps the answer', async () => {
    const q = 'sarah roadmap billing memory vector';
    assert.ok(expectedIds(q).length > 10);
    assert.equal((await (await search({ query: q })).json()).facts.length, 10);
    assert.equal((await (await search({ query: q, max_facts: 3 })).json()).facts.length, 3);
    assert.deepEqual((await (await search({ query: 'zzzz nothing' })).json()), { facts: [] });
  });

  test('validation errors are FastAPI 422 {"detail":[{loc,msg,type}]}', async () => {
    const cases = [
      [{ group_ids: ['team'] }, ['body', 'query'], 'field required', 'value_error.missing'],
      [{ query: 7 }, ['body', 'query'], 'str type expected', 'type_error.str'],
      [{ query: 'x', group_ids: 'team' }, ['body', 'group_ids'], 'value is not a valid list', 'type_error.list'],
      [{ query: 'x', group_ids: ['team', 3] }, ['body', 'group_ids', 1], 'str type expected', 'type_error.str'],
      [{ query: 'x', max_facts: 'ten' }, ['body', 'max_facts'], 'value is not a valid integer', 'type_error.integer'],
      [[1], ['body'], 'value is not a valid dict', 'type_error.dict'],
    ];
    for (const [body, loc, msg, type] of cases) {
      const r = await search(body);
      assert.equal(r.status, 422, JSON.stringify(body));
      assert.deepEqual(await r.json(), { detail: [{ loc, msg, type }] });
    }
    const bad = await search('{"query": ');
    assert.equal(bad.status, 422);
    const j = await bad.json();
    assert.deepEqual(j.detail[0].loc, ['body', 0]);
    assert.equal(j.detail[0].type, 'value_error.jsondecode');
  });

  test('bearer auth when an API key is set; 404 and 405 as {"detail":...}', async () => {
    for (const auth of [null, 'Bearer nope', `Basic ${KEY}`]) {
      const r = await search({ query: 'x' }, { auth });
      assert.equal(r.status, 401);
      assert.deepEqual(await r.json(), { detail: 'Invalid API key' });
    }
    const nf = await fetch(`${srv.graphiti}/nope`, { method: 'POST', body: '{}' });
    assert.equal(nf.status, 404);
    assert.deepEqual(await nf.json(), { detail: 'Not Found' });
    const get = await fetch(`${srv.graphiti}/search`);
    assert.equal(get.status, 405);
    assert.deepEqual(await get.json(), { detail: 'Method Not Allowed' });
  });
});

describe('graphiti GET /healthcheck', () => {
  test('200 {"status":"healthy"}, no auth needed', async () => {
    const r = await fetch(`${srv.graphiti}/healthcheck`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: 'healthy' });
  });
});

describe('graphiti faults and request log', () => {
  test('status=422 / 500 / 503 with FastAPI bodies; 500 is plain text', async () => {
    const r422 = await search({ query: 'x' }, { prefix: '/__fault/status=422' });
    assert.equal(r422.status, 422);
    assert.deepEqual(await r422.json(), { detail: [{ loc: ['body', 'query'], msg: 'field required', type: 'value_error.missing' }] });
    const r500 = await search({ query: 'x' }, { prefix: '/__fault/delay=50,status=500' });
    assert.equal(r500.status, 500);
    assert.match(r500.headers.get('content-type'), /^text\/plain/);
    assert.equal(await r500.text(), 'Internal Server Error');
    const r503 = await search({ query: 'x' }, { prefix: '/__fault/status=503' });
    assert.deepEqual(await r503.json(), { detail: 'Service Unavailable (injected fault)' });
  });

  test('malformed, wrongshape, dupids', async () => {
    const mal = await search({ query: 'sarah' }, { prefix: '/__fault/malformed' });
    assert.equal(mal.status, 200);
    await assert.rejects(mal.json());
    const ws = await search({ query: 'sarah' }, { prefix: '/__fault/wrongshape' });
    assert.deepEqual(await ws.json(), { unexpected: true });
    const dup = await (await search({ query: 'sarah', max_facts: 2 }, { prefix: '/__fault/dupids' })).json();
    assert.equal(dup.facts.length, 4);
    assert.deepEqual(dup.facts[0], dup.facts[1]);
  });

  test('/__control route default, and the log names the server without the key', async () => {
    await fetch(`${srv.graphiti}/__control`, { method: 'POST', body: JSON.stringify({ route: '/search', fault: 'status=500' }) });
    assert.equal((await search({ query: 'x' })).status, 500);
    await fetch(`${srv.graphiti}/__control`, { method: 'DELETE' });
    assert.equal((await search({ query: 'x', group_ids: ['team'], max_facts: 2 })).status, 200);
    const log = await (await fetch(`${srv.graphiti}/__log`)).json();
    assert.equal(log.length, 2);
    assert.deepEqual(log.map((e) => [e.server, e.method, e.path, e.fault, e.status, e.auth]),
      [['graphiti', 'POST', '/search', 'status=500', 500, 'bearer'], ['graphiti', 'POST', '/search', '', 200, 'bearer']]);
    assert.deepEqual(log[1].body, { query: 'x', group_ids: ['team'], max_facts: 2 });
    assert.ok(!JSON.stringify(log).includes(KEY));
  });
});
