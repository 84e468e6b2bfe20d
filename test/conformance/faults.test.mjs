// Fault injection (URL prefix and /__control) and the request log.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import { QdrantClient } from '@qdrant/js-client-rest';
import { basic, startServers } from './harness.mjs';
import { embed } from '../servers/embed.mjs';

const QKEY = 'qdrant-fault-key';
const NEO_PW = 'neo-fault-pw';
let srv;
before(async () => { srv = await startServers({ QDRANT_API_KEY: QKEY, NEO4J_AUTH: `neo4j:${NEO_PW}`, EMBED_API_KEY: 'sk-fault-key' }); });
after(async () => { await srv?.stop(); });
beforeEach(async () => {
  for (const u of [srv.qdrant, srv.neo4j, srv.embedder]) {
    await fetch(`${u}/__control`, { method: 'DELETE' });
    await fetch(`${u}/__log`, { method: 'DELETE' });
  }
});

const qh = { 'api-key': QKEY, 'content-type': 'application/json' };
const qquery = (base, extra = {}) => fetch(`${base}/collections/memory/points/query`, {
  method: 'POST', headers: qh, body: JSON.stringify({ query: embed('sarah roadmap', 64), limit: 3, with_payload: true, ...extra }),
});
const logOf = async (url) => (await fetch(`${url}/__log`)).json();
const control = (url, route, fault) => fetch(`${url}/__control`, { method: 'POST', body: JSON.stringify({ route, fault }) });
const neoTx = (prefix, statements) => fetch(`${srv.neo4j}${prefix}/db/neo4j/tx/commit`, {
  method: 'POST', headers: { authorization: basic('neo4j', NEO_PW), 'content-type': 'application/json' }, body: JSON.stringify({ statements }),
});
const FT = { statement: 'CALL db.index.fulltext.queryNodes("entity_text", $q) YIELD node, score RETURN node.uid AS id, score', parameters: { q: 'sarah' } };

describe('latency', () => {
  test('delay via URL prefix: official client unchanged, measurable in the log', async () => {
    // QdrantClient ignores a path in `url`; its documented base-path option is `prefix`.
    const c = new QdrantClient({ url: srv.qdrant, prefix: '/__fault/delay=300', apiKey: QKEY, checkCompatibility: false });
    const warn = console.warn; console.warn = () => {};
    try {
      const t0 = performance.now();
      const r = await c.getCollections();
      assert.ok(performance.now() - t0 >= 295);
      assert.deepEqual(r.collections.map((x) => x.name), ['memory', 'langchain', 'tenants', 'eval']);
    } finally { console.warn = warn; }
    const [e] = await logOf(srv.qdrant);
    assert.equal(e.path, '/collections');
    assert.equal(e.fault, 'delay=300');
    assert.equal(e.status, 200);
    assert.ok(e.end - e.start >= 299, `logged duration ${e.end - e.start}`);
  });

  test('delay via /__control on one route, then cleared', async () => {
    assert.equal((await control(srv.qdrant, '/collections/memory/points/query', 'delay=250')).status, 200);
    await qquery(srv.qdrant);
    await fetch(`${srv.qdrant}/collections`, { headers: qh });
    await fetch(`${srv.qdrant}/__control`, { method: 'DELETE' });
    await qquery(srv.qdrant);
    const [slow, other, fast] = await logOf(srv.qdrant);
    assert.equal(slow.fault, 'delay=250');
    assert.ok(slow.end - slow.start >= 249);
    assert.equal(other.fault, '');
    assert.equal(fast.fault, '');
    assert.ok(fast.end - fast.start < 200);
  });

  test('drip sends the real body byte by byte', async () => {
    const t0 = performance.now();
    const r = await fetch(`${srv.qdrant}/__fault/drip=15/healthz`);
    assert.equal(await r.text(), 'healthz check passed');
    assert.ok(performance.now() - t0 >= 19 * 15);
  });
});

describe('error and transport faults', () => {
  test('status=500 with Qdrant error envelope (client sees 500); combined with delay', async () => {
    await control(srv.qdrant, '*', 'delay=100,status=500');
    const r = await qquery(srv.qdrant);
    assert.equal(r.status, 500);
    const j = await r.json();
    assert.match(j.status.error, /^Service internal error: /);
    assert.equal(typeof j.time, 'number');
    assert.ok(!('result' in j));
    const c = new QdrantClient({ url: srv.qdrant, apiKey: QKEY, checkCompatibility: false });
    const warn = console.warn; console.warn = () => {};
    const e = await c.getCollection('memory').catch((x) => x);
    console.warn = warn;
    assert.equal(e.status, 500);
    const log = await logOf(srv.qdrant);
    assert.equal(log.length, 2, JSON.stringify(log));
    assert.ok(log.every((x) => x.status === 500 && x.end - x.start >= 99), JSON.stringify(log));
  });

  test('status faults use each server\'s documented body', async () => {
    const n = await neoTx('/__fault/status=503', [FT]);
    assert.equal(n.status, 503);
    assert.equal((await n.json()).errors[0].code, 'Neo.TransientError.General.DatabaseUnavailable');
    const o = await fetch(`${srv.embedder}/__fault/status=429/v1/embeddings`, { method: 'POST', body: '{}' });
    assert.equal(o.status, 429);
    assert.equal((await o.json()).error.code, 'rate_limit_exceeded');
    const q = await fetch(`${srv.qdrant}/__fault/status=404/collections/memory`, { headers: qh });
    assert.deepEqual((await q.json()).status, { error: 'Not found: Collection `memory` doesn\'t exist!' });
  });

  test('reset: connection reset, logged with status null', async () => {
    const e = await fetch(`${srv.qdrant}/__fault/reset/collections`, { headers: qh }).catch((x) => x);
    assert.ok(e instanceof TypeError, String(e));
    assert.equal(e.cause?.code, 'ECONNRESET');
    await new Promise((r) => setTimeout(r, 50));
    const [entry] = await logOf(srv.qdrant);
    assert.equal(entry.status, null);
    assert.equal(entry.fault, 'reset');
  });

  test('reset_mid and truncate: headers arrive, body fails', async () => {
    for (const f of ['reset_mid', 'truncate']) {
      const r = await qquery(`${srv.qdrant}/__fault/${f}`);
      assert.equal(r.status, 200);
      await assert.rejects(r.text(), undefined, f);
    }
  });

  test('hang: no answer until the client gives up', async () => {
    const e = await fetch(`${srv.neo4j}/__fault/hang/`, { signal: AbortSignal.timeout(300) }).catch((x) => x);
    assert.equal(e.name, 'TimeoutError');
    await new Promise((r) => setTimeout(r, 100));
    const [entry] = await logOf(srv.neo4j);
    assert.equal(entry.status, null);
    assert.ok(entry.end - entry.start >= 290);
  });

  test('malformed, wrongshape, ctype', async () => {
    const m = await qquery(`${srv.qdrant}/__fault/malformed`);
    assert.equal(m.status, 200);
    const text = await m.text();
    assert.match(text, /^\{"result": /);
    assert.throws(() => JSON.parse(text), SyntaxError);
    const nq = await fetch(`${srv.neo4j}/__fault/malformed/db/neo4j/query/v2`, {
      method: 'POST', headers: { authorization: basic('neo4j', NEO_PW) }, body: JSON.stringify(FT),
    });
    assert.equal(nq.status, 202);
    await assert.rejects(nq.json(), SyntaxError);
    const w = await qquery(`${srv.qdrant}/__fault/wrongshape,ctype=text%2Fhtml`);
    assert.equal(w.headers.get('content-type'), 'text/html');
    assert.deepEqual(await w.json(), { unexpected: true });
  });

  test('deep, bignum: valid JSON beyond what PostgreSQL parses', async () => {
    const d = await qquery(`${srv.qdrant}/__fault/deep`);
    assert.equal(d.status, 200);
    const text = await d.text();
    assert.equal(text, `{"unexpected": ${'['.repeat(100000)}${']'.repeat(100000)}}`);
    const b = await qquery(`${srv.qdrant}/__fault/bignum`);
    assert.equal(b.status, 200);
    assert.equal(await b.text(), '{"unexpected": 1e1001}');
  });

  test('neo4jerror: 200 / 202 with DatabaseUnavailable in errors', async () => {
    const tx = await neoTx('/__fault/neo4jerror', [FT]);
    assert.equal(tx.status, 200);
    const tj = await tx.json();
    assert.deepEqual(tj.results, []);
    assert.equal(tj.errors[0].code, 'Neo.TransientError.General.DatabaseUnavailable');
    const q = await fetch(`${srv.neo4j}/__fault/neo4jerror/db/neo4j/query/v2`, {
      method: 'POST', headers: { authorization: basic('neo4j', NEO_PW) }, body: JSON.stringify(FT),
    });
    assert.equal(q.status, 202);
    assert.equal((await q.json()).errors[0].code, 'Neo.TransientError.General.DatabaseUnavailable');
  });

  test('huge, nonutf8, nan, dupids', async () => {
    const h = await qquery(`${srv.qdrant}/__fault/huge=200000`);
    const hb = await h.arrayBuffer();
    assert.ok(hb.byteLength >= 199000 && hb.byteLength <= 201000, String(hb.byteLength));
    assert.equal(JSON.parse(Buffer.from(hb).toString()).result.points.length, 3);

    const bad = Buffer.from(await (await qquery(`${srv.qdrant}/__fault/nonutf8`)).arrayBuffer());
    assert.ok(bad.includes(Buffer.from([0xc3, 0x28])));
    assert.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(bad), TypeError);

    const nanText = await (await qquery(`${srv.qdrant}/__fault/nan`)).text();
    assert.equal(nanText.match(/"score":NaN/g).length, 3);
    const neoNan = await (await neoTx('/__fault/nan', [FT])).text();
    assert.match(neoNan, /"row":\["m\d\d",NaN\]/);

    const plain = (await (await qquery(srv.qdrant)).json()).result.points.map((p) => p.id);
    const dup = (await (await qquery(`${srv.qdrant}/__fault/dupids`)).json()).result.points.map((p) => p.id);
    assert.deepEqual(dup, plain.flatMap((id) => [id, id]));
    const emb = await (await fetch(`${srv.embedder}/__fault/dupids/v1/embeddings`, {
      method: 'POST', headers: { authorization: 'Bearer sk-fault-key' }, body: '{"model":"test-embed","input":["a b","c"]}',
    })).json();
    assert.deepEqual(emb.data.map((d) => d.index), [0, 0, 1, 1]);
  });

  // issue 11 item 3: characters for databases in other encodings, raw or escaped
  test('chars=FORM: the same characters as UTF-8 or as \\u escapes', async () => {
    const title = async (fault) => {
      const text = await (await qquery(`${srv.qdrant}/__fault/${fault}`)).text();
      return { text, points: JSON.parse(text).result.points };
    };
    const plain = (await title('delay=0')).points;
    for (const [form, chars, escaped] of [['latin1', 'café crème', 'caf\\u00e9 cr\\u00e8me'],
      ['cjk', '中文', '\\u4e2d\\u6587'], ['emoji', '😀', '\\ud83d\\ude00']]) {
      const raw = await title(`chars=${form}`);
      assert.ok(raw.text.includes(chars), raw.text);
      const esc = await title(`chars=${form}esc`);
      assert.ok(esc.text.includes(escaped), esc.text);
      // the same JSON once parsed: one string of the first point gained them
      assert.deepEqual(esc.points, raw.points);
      const changed = JSON.stringify(raw.points).replace(` ${chars}`, '');
      assert.equal(changed, JSON.stringify(plain));
    }
    assert.equal((await qquery(`${srv.qdrant}/__fault/chars=greek`)).status, 400);
  });

  // issue 11 item 2; origin: pramsey/pgsql-http#55 (a gzip answer read as text: invalid byte sequence 0x8b)
  // issue 11 item 2; origin: pramsey/pgsql-http#108 (the same error from a REST API that compresses)
  // issue 11 item 2: compressed answers; the servers compress only when asked
  test('gzip, deflate, badgzip: only when Accept-Encoding allows the coding', async () => {
    const raw = (fault, acceptEncoding) => new Promise((resolve, reject) => {
      const u = new URL(`${srv.qdrant}/__fault/${fault}/collections/memory/points/query`);
      const body = JSON.stringify({ query: embed('sarah roadmap', 64), limit: 3, with_payload: true });
      const req = http.request(u, { method: 'POST', headers: { ...qh, ...(acceptEncoding ? { 'accept-encoding': acceptEncoding } : {}) } },
        (res) => { const c = []; res.on('data', (d) => c.push(d)); res.on('end', () => resolve({ res, body: Buffer.concat(c) })); });
      req.on('error', reject);
      req.end(body);
    });
    const plain = await raw('gzip', null);
    assert.equal(plain.res.headers['content-encoding'], undefined);
    assert.equal(plain.res.headers.vary, 'Accept-Encoding');
    assert.equal(JSON.parse(plain.body).result.points.length, 3);
    const gz = await raw('gzip', 'deflate, gzip, br, zstd');
    assert.equal(gz.res.headers['content-encoding'], 'gzip');
    assert.equal(JSON.parse(zlib.gunzipSync(gz.body)).result.points.length, 3);
    assert.equal((await raw('gzip', 'gzip;q=0, deflate')).res.headers['content-encoding'], undefined);
    const df = await raw('deflate', 'gzip, deflate');
    assert.equal(df.res.headers['content-encoding'], 'deflate');
    assert.equal(JSON.parse(zlib.inflateSync(df.body)).result.points.length, 3);
    const bad = await raw('badgzip', 'gzip');
    assert.equal(bad.res.headers['content-encoding'], 'gzip');
    assert.throws(() => zlib.gunzipSync(bad.body), /invalid block type/);
    const bomb = await raw('gzip,huge=1000000', 'gzip');
    assert.ok(bomb.body.length < 8000, String(bomb.body.length));
    assert.ok(zlib.gunzipSync(bomb.body).length >= 999000);
    // an official client asks, and decodes
    const c = new QdrantClient({ url: srv.qdrant, prefix: '/__fault/gzip', apiKey: QKEY, checkCompatibility: false });
    assert.equal((await c.query('memory', { query: embed('sarah roadmap', 64), limit: 3 })).points.length, 3);
    const log = await logOf(srv.qdrant);
    assert.equal(log.at(-1).fault, 'gzip');
    assert.equal(log.at(-1).status, 200);
    assert.equal(log.at(-1).encoding, 'gzip');
  });

  // issue 11 (Also): a 429 with Retry-After, the first time only or every time
  test('retry_after, retry_date, once: Retry-After forms, first request only', async () => {
    const ask = (fault) => qquery(`${srv.qdrant}/__fault/${fault}`);
    const every = [await ask('status=429'), await ask('status=429')];
    assert.deepEqual(every.map((r) => r.status), [429, 429]);
    // Qdrant's own: delay-seconds, its error in status.error
    assert.equal(every[0].headers.get('retry-after'), '1');
    assert.match((await every[0].json()).status.error, /^Rate limiting exceeded: Read rate limit exceeded: .* Retry after 1s$/);
    const once = [await ask('status=429,retry_after=2,once'), await ask('status=429,retry_after=2,once')];
    assert.deepEqual(once.map((r) => r.status), [429, 200]);
    assert.equal(once[0].headers.get('retry-after'), '2');
    assert.equal(once[1].headers.get('retry-after'), null);
    assert.equal((await once[1].json()).result.points.length, 3);
    // another spec, another first time; DELETE /__control forgets them
    assert.equal((await ask('status=503,retry_after=soon,once')).headers.get('retry-after'), 'soon');
    await fetch(`${srv.qdrant}/__control`, { method: 'DELETE' });
    assert.equal((await ask('status=429,retry_after=2,once')).status, 429);
    const dated = await ask('status=429,retry_date=30');
    const at = Date.parse(dated.headers.get('retry-after'));
    assert.match(dated.headers.get('retry-after'), /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/);
    assert.ok(at > Date.now() + 28000 && at <= Date.now() + 30000, String(at - Date.now()));
    const log = (await logOf(srv.qdrant)).filter((e) => e.path.endsWith('/points/query'));
    assert.deepEqual(log.map((e) => e.status), [429, 429, 429, 200, 503, 429, 429]);
    // the OpenAI-style embedder: its 429 body and Retry-After, replaced when asked
    const e = await fetch(`${srv.embedder}/__fault/status=429,retry_after=3/v1/embeddings`, {
      method: 'POST', headers: { authorization: 'Bearer sk-fault-key', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'test-embed', input: 'x' }),
    });
    assert.equal(e.headers.get('retry-after'), '3');
    assert.equal((await e.json()).error.code, 'rate_limit_exceeded');
    // Neo4j's own 429 (its log-in rate limit): no Retry-After, the wait in words
    const n = await fetch(`${srv.neo4j}/__fault/status=429/db/neo4j/tx/commit`, { method: 'POST', body: '{}' });
    assert.equal(n.headers.get('retry-after'), null);
    assert.deepEqual(await n.json(), { errors: [{ code: 'Neo.ClientError.Security.AuthenticationRateLimit',
      message: 'Too many failed authentication requests. Please wait 5 seconds and try again.' }] });
    for (const bad of ['retry_after=1', 'once', 'status=429,retry_after=1,retry_date=1', 'status=429,retry_date=x']) {
      assert.equal((await control(srv.qdrant, '*', bad)).status, 400, bad);
    }
  });

  test('unknown fault item is rejected', async () => {
    assert.equal((await control(srv.qdrant, '*', 'explode')).status, 400);
    assert.equal((await fetch(`${srv.qdrant}/__fault/explode/healthz`)).status, 400);
    assert.equal((await fetch(`${srv.qdrant}/__fault/echo=rot13/healthz`)).status, 400);
  });
});

describe('echo faults (issue 9: credentials echoed in error messages)', () => {
  const neoMessage = async (form) => {
    const r = await neoTx(`/__fault/echo=${form}`, [FT]);
    assert.equal(r.status, 400);
    const j = await r.json();
    assert.deepEqual(j.results, []);
    assert.equal(j.errors[0].code, 'Neo.ClientError.Request.Invalid');
    return j.errors[0].message;
  };
  const pw = Buffer.from(NEO_PW);

  test('header, base64 (three alignments, URL-safe), percent, json in the server\'s own body', async () => {
    assert.equal(await neoMessage('header'), `Invalid credentials: ${basic('neo4j', NEO_PW)}`);
    const b64 = (prefix) => Buffer.concat([Buffer.from(prefix), pw]).toString('base64');
    assert.equal(await neoMessage('base64'),
      `Invalid credentials: ${b64('')} ${b64('k')} ${b64('ke')} ${pw.toString('base64url')}`);
    const lower = [...pw].map((b) => '%' + b.toString(16).padStart(2, '0')).join('');
    assert.equal(await neoMessage('percent'), `Invalid credentials: ${lower} ${lower.toUpperCase()}`);
    const json = await neoMessage('json');
    assert.equal(JSON.parse(`"${json.slice('Invalid credentials: '.length)}"`), NEO_PW);
    // the other servers' envelopes carry the echo where their messages go
    const q = await qquery(`${srv.qdrant}/__fault/echo=header`);
    assert.equal(q.status, 400);
    assert.deepEqual((await q.json()).status.error, `Invalid credentials: ${QKEY}`);
    const e = await fetch(`${srv.embedder}/__fault/echo=header/v1/embeddings`, {
      method: 'POST', headers: { authorization: 'Bearer sk-fault-key' }, body: '{}',
    });
    assert.equal((await e.json()).error.message, 'Invalid credentials: Bearer sk-fault-key');
  });

  test('cut: plain text with the credential across byte 200', async () => {
    const r = await qquery(`${srv.qdrant}/__fault/echo=cut`);
    assert.equal(r.status, 400);
    assert.match(r.headers.get('content-type'), /^text\/plain/);
    const text = await r.text();
    assert.equal(text.indexOf(QKEY), 190);
    assert.ok(text.length > 200 && 190 + QKEY.length > 200);
  });
});

describe('request log', () => {
  test('file and /__log agree; fields, auth kinds, no secrets', async () => {
    const before = readFileSync(srv.logFile, 'utf8').split('\n').filter(Boolean).length;
    await qquery(srv.qdrant);
    await neoTx('', [FT]);
    await fetch(`${srv.neo4j}/db/neo4j/query/v2`, { method: 'POST', headers: { authorization: `Bearer ${NEO_PW}` }, body: 'not json' });
    await fetch(`${srv.embedder}/v1/embeddings`, { method: 'POST', headers: { authorization: 'Bearer sk-fault-key' }, body: '{"model":"test-embed","input":"x"}' });
    await fetch(`${srv.qdrant}/healthz`, { headers: { 'X-Tenant': 'acme' } });
    const fileText = readFileSync(srv.logFile, 'utf8');
    const lines = fileText.split('\n').filter(Boolean).slice(before).map((l) => JSON.parse(l));
    const mem = [...await logOf(srv.qdrant), ...await logOf(srv.neo4j), ...await logOf(srv.embedder)];
    assert.equal(lines.length, 5, JSON.stringify(lines));
    assert.deepEqual(new Set(lines.map((l) => JSON.stringify(l))), new Set(mem.map((l) => JSON.stringify(l))));
    const [q, tx, qa, emb, hz] = lines;
    assert.deepEqual(Object.keys(q), ['server', 'method', 'path', 'fault', 'start', 'end', 'status', 'encoding', 'remote_port', 'auth', 'user_agent', 'x_headers', 'via', 'access_mode', 'body']);
    assert.deepEqual([q.x_headers, q.via, q.access_mode], [{}, null, null]);
    assert.deepEqual([q.server, q.method, q.path, q.status, q.auth], ['qdrant', 'POST', '/collections/memory/points/query', 200, 'api-key']);
    assert.equal(q.body.limit, 3);
    assert.ok(q.start > Date.now() - 60000 && q.end >= q.start);
    assert.ok(Number.isInteger(q.remote_port) && q.remote_port > 0);
    assert.deepEqual([tx.server, tx.auth, tx.status], ['neo4j', 'basic', 200]);
    assert.deepEqual(tx.body.statements[0].parameters, { q: 'sarah' });
    assert.deepEqual([qa.auth, qa.status, qa.body], ['bearer', 400, 'not json']);
    assert.deepEqual([emb.server, emb.auth], ['embedder', 'bearer']);
    assert.deepEqual([hz.auth, hz.body, hz.path, hz.x_headers], ['none', null, '/healthz', { 'x-tenant': 'acme' }]);
    for (const secret of [QKEY, NEO_PW, 'sk-fault-key', Buffer.from(`neo4j:${NEO_PW}`).toString('base64')]) {
      assert.ok(!fileText.includes(secret), 'secret leaked into the log');
    }
    assert.ok(!fileText.includes('/__control') && !fileText.includes('"path":"/__log"'));
    await fetch(`${srv.qdrant}/__log`, { method: 'DELETE' });
    assert.deepEqual(await logOf(srv.qdrant), []);
  });
});
