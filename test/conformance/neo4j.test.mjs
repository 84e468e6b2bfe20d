// Neo4j test server: transactional endpoint and Query API, against the
// documented request/response examples (wire-formats.md section 2).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basic, startServers } from './harness.mjs';
import { loadCorpus } from '../servers/corpus.mjs';
import { tokenize } from '../servers/embed.mjs';

let srv;
before(async () => { srv = await startServers({ NEO4J_AUTH: 'neo4j:s3cret' }); });
after(async () => { await srv?.stop(); });

const AUTH = basic('neo4j', 's3cret');
const FT = 'CALL db.index.fulltext.queryNodes($index, $query) YIELD node, score RETURN node.uid AS id, score';
const post = (path, body, auth = AUTH) => fetch(`${srv.neo4j}${path}`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json;charset=UTF-8', ...(auth ? { authorization: auth } : {}) },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

// Expected full-text ranking, recomputed from the documented formula.
function expectedRanking(q) {
  const corpus = loadCorpus();
  const docs = corpus.map((c) => tokenize(`${c.title} ${c.text}`));
  const terms = [...new Set(tokenize(q))];
  const N = docs.length;
  return corpus.map((c, i) => ({
    id: c.id,
    score: terms.reduce((s, t) => {
      const tf = docs[i].filter((x) => x === t).length;
      const df = docs.filter((d) => d.includes(t)).length;
      return tf ? s + (1 + Math.log(tf)) * Math.log(1 + N / df) : s;
    }, 0),
  })).filter((r) => r.score > 0).sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
}

describe('neo4j transactional endpoint /db/neo4j/tx/commit', () => {
  test('documented example: rows, meta, bookmarks, ranking', async () => {
    const r = await post('/db/neo4j/tx/commit', { statements: [{ statement: FT, parameters: { index: 'entity_text', query: 'sarah' } }] });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    const j = await r.json();
    assert.deepEqual(j.errors, []);
    assert.equal(j.results.length, 1);
    assert.deepEqual(j.results[0].columns, ['id', 'score']);
    const exp = expectedRanking('sarah');
    assert.ok(exp.length >= 5);
    assert.deepEqual(j.results[0].data.map((d) => d.row[0]), exp.map((e) => e.id));
    j.results[0].data.forEach((d, i) => {
      assert.ok(Math.abs(d.row[1] - exp[i].score) < 1e-9);
      assert.deepEqual(d.meta, [null, null]);
    });
    assert.equal(j.lastBookmarks.length, 1);
    assert.match(j.lastBookmarks[0], /^FB:/);
  });

  test('several statements, node values, literals, SKIP/LIMIT', async () => {
    const st2 = `call db.index.fulltext.queryNodes('entity_text', "roadmap billing")
      yield node, score
      return node, node.name as title, score as s order by score desc skip $s limit 2`;
    const j = await (await post('/db/neo4j/tx/commit', {
      statements: [{ statement: FT, parameters: { index: 'entity_text', query: 'roadmap' } }, { statement: st2, parameters: { s: 1 } }],
    })).json();
    assert.deepEqual(j.errors, []);
    assert.equal(j.results.length, 2);
    const [, r2] = j.results;
    assert.deepEqual(r2.columns, ['node', 'title', 's']);
    const exp = expectedRanking('roadmap billing').slice(1, 3);
    assert.deepEqual(r2.data.map((d) => d.row[0].uid), exp.map((e) => e.id));
    const item = loadCorpus().find((c) => c.id === exp[0].id);
    assert.deepEqual(r2.data[0].row[0], { uid: item.id, name: item.title, summary: item.text, kind: item.kind, created_at: item.created_at });
    assert.equal(r2.data[0].row[1], item.title);
    assert.equal(r2.data[0].meta[0].type, 'node');
    assert.equal(r2.data[0].meta[0].deleted, false);
    assert.match(r2.data[0].meta[0].elementId, /^4:[0-9a-f-]+:\d+$/);
    assert.equal(r2.data[0].meta[1], null);
  });

  test('failing statement -> 200 with errors and no results (rolled back)', async () => {
    const cases = [
      [{ statement: 'MATCH (n) RETURN n' }, 'Neo.ClientError.Statement.SyntaxError', /^Invalid input/],
      [{ statement: FT, parameters: { index: 'entity_text' } }, 'Neo.ClientError.Statement.ParameterMissing', /^Expected parameter\(s\): query$/],
      [{ statement: FT, parameters: { index: 'nope', query: 'x' } }, 'Neo.ClientError.Procedure.ProcedureCallFailed', /There is no such fulltext schema index: nope/],
    ];
    for (const [st, code, msg] of cases) {
      const r = await post('/db/neo4j/tx/commit', { statements: [{ statement: FT, parameters: { index: 'entity_text', query: 'x' } }, st] });
      assert.equal(r.status, 200);
      const j = await r.json();
      assert.deepEqual(j.results, []);
      assert.equal(j.errors.length, 1);
      assert.equal(j.errors[0].code, code);
      assert.match(j.errors[0].message, msg);
    }
    const bad = await post('/db/neo4j/tx/commit', '{"statements": [');
    assert.equal(bad.status, 200);
    assert.equal((await bad.json()).errors[0].code, 'Neo.ClientError.Request.InvalidFormat');
  });

  test('an unterminated Lucene phrase fails as in Neo4j 5, echoing the query', async () => {
    const j = await (await post('/db/neo4j/tx/commit', {
      statements: [{ statement: FT, parameters: { index: 'entity_text', query: 'roadmap "sarah b\\"x' } }],
    })).json();
    assert.deepEqual(j.results, []);
    assert.equal(j.errors[0].code, 'Neo.ClientError.Procedure.ProcedureCallFailed');
    assert.equal(j.errors[0].message, 'Failed to invoke procedure `db.index.fulltext.queryNodes`: Caused by: ' +
      'org.apache.lucene.queryparser.classic.TokenMgrError: Lexical error at line 1, column 20.  ' +
      'Encountered: <EOF> after prefix "\\"sarah b\\\\\\"x" (in lexical state 2)');
    // balanced and escaped quotes parse
    const ok = await (await post('/db/neo4j/tx/commit', {
      statements: [{ statement: FT, parameters: { index: 'entity_text', query: '"sarah roadmap" \\"x' } }],
    })).json();
    assert.deepEqual(ok.errors, []);
  });

  test('401 without or with wrong credentials; Bearer accepted; 404 unknown db', async () => {
    const none = await post('/db/neo4j/tx/commit', { statements: [] }, null);
    assert.equal(none.status, 401);
    assert.deepEqual(await none.json(), { errors: [{ code: 'Neo.ClientError.Security.Unauthorized', message: 'No authentication header supplied.' }] });
    const wrong = await post('/db/neo4j/tx/commit', { statements: [] }, basic('neo4j', 'nope'));
    assert.equal(wrong.status, 401);
    assert.deepEqual(await wrong.json(), { errors: [{ code: 'Neo.ClientError.Security.Unauthorized', message: 'Invalid username or password.' }] });
    const bearer = await post('/db/neo4j/tx/commit', { statements: [] }, 'Bearer s3cret');
    assert.equal(bearer.status, 200);
    const db = await post('/db/other/tx/commit', { statements: [] });
    assert.equal(db.status, 404);
    assert.equal((await db.json()).errors[0].code, 'Neo.ClientError.Database.DatabaseNotFound');
  });

  test('discovery document needs no auth', async () => {
    const j = await (await fetch(`${srv.neo4j}/`)).json();
    assert.match(j.query, /\/db\/\{databaseName\}\/query\/v2$/);
    assert.match(j.transaction, /\/db\/\{databaseName\}\/tx$/);
    assert.equal(j.neo4j_version, '5.26.0');
  });
});

describe('neo4j Query API /db/neo4j/query/v2', () => {
  test('success is 202 with data.fields/values and bookmarks; nodes as elementId/labels/properties', async () => {
    const r = await post('/db/neo4j/query/v2', {
      statement: 'CALL db.index.fulltext.queryNodes("entity_text", $query) YIELD node, score RETURN node, node.uid, score LIMIT 3',
      parameters: { query: 'latency budget' },
    });
    assert.equal(r.status, 202);
    const j = await r.json();
    assert.deepEqual(j.data.fields, ['node', 'node.uid', 'score']);
    const exp = expectedRanking('latency budget').slice(0, 3);
    assert.deepEqual(j.data.values.map((v) => v[1]), exp.map((e) => e.id));
    const n = j.data.values[0][0];
    assert.deepEqual(Object.keys(n), ['elementId', 'labels', 'properties']);
    assert.deepEqual(n.labels, ['Memory']);
    assert.equal(n.properties.uid, exp[0].id);
    assert.match(j.bookmarks[0], /^FB:/);
    assert.ok(!('errors' in j));
  });

  test('errors -> 400 {"errors":[...]}, 401, 404', async () => {
    const syn = await post('/db/neo4j/query/v2', { statement: 'RETURN' });
    assert.equal(syn.status, 400);
    assert.equal((await syn.json()).errors[0].code, 'Neo.ClientError.Statement.SyntaxError');
    const miss = await post('/db/neo4j/query/v2', { statement: FT, parameters: {} });
    assert.equal(miss.status, 400);
    assert.deepEqual(await miss.json(), { errors: [{ code: 'Neo.ClientError.Statement.ParameterMissing', message: 'Expected parameter(s): index, query' }] });
    const fmt = await post('/db/neo4j/query/v2', '{nope');
    assert.equal(fmt.status, 400);
    assert.equal((await fmt.json()).errors[0].code, 'Neo.ClientError.Request.InvalidFormat');
    const un = await post('/db/neo4j/query/v2', { statement: 'RETURN 1' }, basic('neo4j', 'x'));
    assert.equal(un.status, 401);
    const db = await post('/db/missing/query/v2', { statement: 'RETURN 1' });
    assert.equal(db.status, 404);
    assert.equal((await db.json()).errors[0].code, 'Neo.ClientError.Database.DatabaseNotFound');
    const one = await post('/db/neo4j/query/v2', { statement: 'RETURN 1 AS ok' });
    assert.deepEqual((await one.json()).data, { fields: ['ok'], values: [[1]] });
  });
});
