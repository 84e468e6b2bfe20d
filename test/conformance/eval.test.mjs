// The evaluation set (test/fixtures/eval, test/servers/eval.mjs) as each
// test server serves it, beside the fixture corpus and apart from it: the
// Neo4j index eval_text over :Eval nodes, the Qdrant collection eval, the
// Graphiti deployment at /eval; and the corpus' own answers unchanged by it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basic, startServers } from './harness.mjs';
import { evalItems, loadEval } from '../servers/eval.mjs';
import { loadCorpus } from '../servers/corpus.mjs';

let srv;
before(async () => { srv = await startServers({ QDRANT_API_KEY: 'k', GRAPHITI_API_KEY: 'g' }); });
after(async () => { await srv?.stop(); });

const post = (url, body, headers) => fetch(url, {
  method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
});

describe('evaluation set', () => {
  test('items name their stores; ids are unique', () => {
    const items = loadEval();
    assert.equal(new Set(items.map((i) => i.id)).size, items.length);
    for (const s of ['neo4j', 'qdrant', 'graphiti', 'redis', 'sql']) assert.ok(evalItems(s, items).length > 0, s);
  });

  test('neo4j: eval_text finds :Eval nodes only; entity_text finds corpus nodes only', async () => {
    const statement = (index) => `CALL db.index.fulltext.queryNodes('${index}', $q) YIELD node, score RETURN node.uid AS id, node LIMIT 50`;
    const r = await post(`${srv.neo4j}/db/neo4j/query/v2`, { statement: statement('eval_text'), parameters: { q: 'Ben Okafor' } },
      { authorization: basic('neo4j', 'testpassword') });
    assert.equal(r.status, 202);
    const { data } = await r.json();
    const graph = new Set(evalItems('neo4j').map((i) => i.id));
    assert.ok(data.values.length > 1);
    for (const [id, node] of data.values) {
      assert.ok(graph.has(id), id);
      assert.deepEqual(node.labels, ['Eval']);
    }
    assert.ok(data.values.some(([id]) => id === 'p-ben-okafor'));
    const c = await post(`${srv.neo4j}/db/neo4j/query/v2`, { statement: statement('entity_text'), parameters: { q: 'Sarah roadmap Ben Okafor' } },
      { authorization: basic('neo4j', 'testpassword') });
    const corpus = new Set(loadCorpus().map((i) => i.id));
    for (const [id] of (await c.json()).data.values) assert.ok(corpus.has(id), id);
  });

  test('qdrant: collection eval holds the vector store items with their doc_id', async () => {
    const r = await fetch(`${srv.qdrant}/collections/eval`, { headers: { 'api-key': 'k' } });
    assert.equal((await r.json()).result.points_count, evalItems('qdrant').length);
    const s = await post(`${srv.qdrant}/collections/eval/points/query`, { limit: 1000, with_payload: true }, { 'api-key': 'k' });
    const ids = (await s.json()).result.points.map((p) => p.payload.doc_id).sort();
    assert.deepEqual(ids, evalItems('qdrant').map((i) => i.id).sort());
  });

  test('graphiti: /eval serves the eval facts (uuid = item id, validity as given); / does not', async () => {
    const auth = { authorization: 'Bearer g' };
    assert.deepEqual(await (await fetch(`${srv.graphiti}/eval/healthcheck`)).json(), { status: 'healthy' });
    const r = await post(`${srv.graphiti}/eval/search`, { query: 'on-call engineer for Atlas', group_ids: ['eval'], max_facts: 50 }, auth);
    assert.equal(r.status, 200);
    const { facts } = await r.json();
    const byId = new Map(evalItems('graphiti').map((i) => [i.id, i]));
    assert.ok(facts.length >= 3);
    for (const f of facts) {
      const it = byId.get(f.uuid);
      assert.ok(it, f.uuid);
      assert.equal(f.fact, it.text);
      assert.equal(f.invalid_at === null, it.invalid_at === null);
    }
    // another group: nothing; the corpus' deployment never sees the eval facts
    const other = await post(`${srv.graphiti}/eval/search`, { query: 'on-call engineer for Atlas', group_ids: ['team'] }, auth);
    assert.deepEqual(await other.json(), { facts: [] });
    const team = await post(`${srv.graphiti}/search`, { query: 'on-call engineer for Atlas', max_facts: 50 }, auth);
    for (const f of (await team.json()).facts) assert.ok(!byId.has(f.uuid));
    // the mount keeps the service's errors
    const bad = await post(`${srv.graphiti}/eval/search`, { group_ids: ['eval'] }, auth);
    assert.equal(bad.status, 422);
    assert.equal((await fetch(`${srv.graphiti}/eval/nothing`)).status, 404);
  });
});
