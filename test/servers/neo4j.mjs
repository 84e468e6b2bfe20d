// neo4j.mjs - a Neo4j 5 HTTP server stand-in: discovery document, the
// transactional endpoint (POST /db/{db}/tx/commit) and the Query API
// (POST /db/{db}/query/v2), over the fixture corpus loaded as :Memory nodes
// with a full-text index `entity_text` on name and summary, the notes
// (corpus.mjs notesPath) as :Note nodes with an index `note_text`, and the
// evaluation set's graph items (eval.mjs) as :Eval nodes with an index
// `eval_text` (their summary is what the graph knows of them: relationships
// written out, e.g. "Works with ...", since the test server's Cypher subset
// does not traverse relationships).
//
// Status codes and bodies follow /work/shared/wire-formats.md section 2:
// tx/commit reports statement failures as HTTP 200 with `errors` filled and
// `results` empty (rolled back); the Query API answers 202 on success and 400
// (client or transient errors) / 500 (database errors) with {"errors":[...]}.
import { createTestServer } from './http.mjs';
import { CypherError, FulltextIndex, run } from './cypher.mjs';
import { NAN } from './faults.mjs';
import { loadCorpus, loadTenants, notesPath } from './corpus.mjs';
import { evalItems } from './eval.mjs';
import { Memo, share } from './memo.mjs';

const DB_UUID = '7f1c2b9e-0d4a-4e5b-8c6f-3a2e1d0b9c87'; // fixed, so elementIds are stable
const ROUTE_RE = /^\/db\/([^/]+)\/(tx\/commit|query\/v2)$/;

const err = (code, message) => ({ code, message });

function checkAuth(headers, user, password) {
  const h = headers.authorization;
  if (!h) return 'No authentication header supplied.';
  const basic = /^basic\s+(\S+)\s*$/i.exec(h);
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i >= 0 && decoded.slice(0, i) === user && decoded.slice(i + 1) === password) return null;
    return 'Invalid username or password.';
  }
  const bearer = /^bearer\s+(\S+)\s*$/i.exec(h);
  if (bearer && bearer[1] === password) return null;
  return 'Invalid username or password.';
}

const unauthorized = (message) => ({
  status: 401,
  headers: { 'WWW-Authenticate': 'Basic realm="Neo4j"' },
  json: { errors: [err('Neo.ClientError.Security.Unauthorized', message)] },
});

const isTx = (ctx) => ctx.path.endsWith('/tx/commit');

/** Per-status error bodies used by `status=CODE` faults. */
function errorResponse(status, ctx) {
  if (status === 401) return unauthorized('Invalid username or password.');
  // Neo4j's own 429: its authentication filter (AuthorizationEnabledFilter),
  // before any endpoint, after too many failed log-ins; no Retry-After, the
  // wait is in the message only
  if (status === 429) {
    return {
      status,
      contentType: 'application/json; charset=UTF-8',
      json: { errors: [err('Neo.ClientError.Security.AuthenticationRateLimit', 'Too many failed authentication requests. Please wait 5 seconds and try again.')] },
    };
  }
  const m = ROUTE_RE.exec(ctx.path);
  const byStatus = {
    400: err('Neo.ClientError.Request.Invalid', 'Invalid request (injected fault).'),
    404: err('Neo.ClientError.Database.DatabaseNotFound', `Database does not exist. Database name: '${m ? m[1] : 'neo4j'}'.`),
    408: err('Neo.ClientError.Transaction.TransactionTimedOut', 'The transaction has been terminated because it timed out.'),
    503: err('Neo.TransientError.General.DatabaseUnavailable', "Database 'neo4j' is unavailable."),
  };
  const e = byStatus[status] ?? (status >= 500
    ? err('Neo.DatabaseError.General.UnknownError', `Internal server error ${status} (injected fault).`)
    : err('Neo.ClientError.Request.Invalid', `Request failed with status ${status} (injected fault).`));
  return { status, json: isTx(ctx) && status !== 404 ? { results: [], errors: [e] } : { errors: [e] } };
}

export function createNeo4jServer({ corpus, notes = loadCorpus(notesPath()), tenants = loadTenants(), evalNodes = evalItems('neo4j'), log, user = 'neo4j', password = 'testpassword', version = '5.26.0' }) {
  // Node ids follow corpus order, then the notes', then the evaluation
  // set's, then the per-user memories', as a fresh import would assign them.
  const node = (label, first) => (it, i) => ({
    id: first + i,
    elementId: `4:${DB_UUID}:${first + i}`,
    labels: [label],
    properties: { uid: it.id, name: it.title, summary: it.graph_summary ?? it.text, kind: it.kind, created_at: it.created_at },
  });
  const nodes = corpus.map(node('Memory', 0));
  const noteNodes = notes.map(node('Note', corpus.length));
  const evalGraph = evalNodes.map(node('Eval', corpus.length + notes.length));
  // the per-user memories: their own label and index, user_id a property
  const first = corpus.length + notes.length + evalNodes.length;
  const tenantNodes = tenants.map((it, i) => ({
    id: first + i,
    elementId: `4:${DB_UUID}:${first + i}`,
    labels: ['UserMemory'],
    properties: { uid: it.id, user_id: it.user_id, name: it.title, summary: it.text, created_at: it.created_at },
  }));
  const indexes = new Map([
    ['entity_text', new FulltextIndex('entity_text', ['name', 'summary'], nodes)],
    ['note_text', new FulltextIndex('note_text', ['name', 'summary'], noteNodes)],
    ['eval_text', new FulltextIndex('eval_text', ['name', 'summary'], evalGraph)],
    ['user_memory_text', new FulltextIndex('user_memory_text', ['name', 'summary'], tenantNodes)],
  ]);
  let txCounter = 0;
  const bookmark = () => 'FB:kcwQ' + Buffer.from(`apex-test-${DB_UUID}-${++txCounter}`).toString('base64') + 'kA==';

  // Runs one statement; returns {columns, rows, scoreCols}. Throws CypherError.
  // The data never changes, so a statement with the same parameters gets the
  // same (memoised, shared: never modified) result, and the rows rendered
  // for each API are kept with it (txData, queryValues).
  const memo = new Memo(128);
  const exec = (statement, parameters) => (typeof statement === 'string'
    ? memo.get(`${statement}\u0000${JSON.stringify(parameters)}`, () => execOnce(statement, parameters))
    : execOnce(statement, parameters));
  const renderTx = (r) => r.rows.map((row) => ({
    row: row.map((v) => (v && v.node ? v.node.properties : v)),
    meta: row.map((v) => (v && v.node
      ? { id: v.node.id, elementId: v.node.elementId, type: 'node', deleted: false } : null)),
  }));
  const txData = (r) => (r.txData ??= share(renderTx(r)));
  const queryValues = (r) => (r.queryValues ??= share(r.rows.map((row) => row.map((v) => (v && v.node
    ? { elementId: v.node.elementId, labels: v.node.labels, properties: v.node.properties } : v)))));
  const execOnce = (statement, parameters) => {
    const r = run(statement, parameters, indexes);
    const scoreCols = [];
    if (/YIELD\s+node\s*,\s*score/i.test(statement)) {
      // columns that hold the score, for the `nan` fault
      const items = /RETURN\s+([\s\S]+?)(?:\s+ORDER\s|\s+SKIP\s|\s+LIMIT\s|\s*;?\s*$)/i.exec(statement)[1].split(',');
      items.forEach((it, i) => { if (/^\s*score\b/i.test(it)) scoreCols.push(i); });
    }
    return { ...r, scoreCols };
  };

  function txCommit(ctx) {
    if (ctx.jsonError !== null || !ctx.json || !Array.isArray(ctx.json.statements)) {
      const why = ctx.jsonError ?? 'expected an object with a "statements" array';
      return { status: 200, json: { results: [], errors: [err('Neo.ClientError.Request.InvalidFormat', `Unable to deserialize request: ${why}`)] } };
    }
    const results = [];
    const seen = new Set();
    ctx.neo4jScoreCols = [];
    for (const st of ctx.json.statements) {
      try {
        const r = exec(st?.statement, st?.parameters);
        // a statement repeated in one request gets rows of its own, as
        // before the memo (a fault that edits the first string edits one)
        const res = seen.has(r) ? { columns: r.columns.slice(), data: renderTx(r) } : { columns: r.columns, data: txData(r) };
        seen.add(r);
        if (st.includeStats) res.stats = zeroCounters(false);
        results.push(res);
        ctx.neo4jScoreCols.push(r.scoreCols);
      } catch (e) {
        if (!(e instanceof CypherError)) throw e;
        // the whole transaction is rolled back: no results at all
        return { status: 200, json: { results: [], errors: [err(e.code, e.message)] } };
      }
    }
    return { status: 200, json: { results, errors: [], lastBookmarks: [bookmark()] } };
  }

  function queryV2(ctx) {
    if (ctx.jsonError !== null || !ctx.json || typeof ctx.json !== 'object') {
      const why = ctx.jsonError ?? 'expected a JSON object';
      return { status: 400, json: { errors: [err('Neo.ClientError.Request.InvalidFormat', `Unable to deserialize request: ${why}`)] } };
    }
    if (typeof ctx.json.statement !== 'string') {
      return { status: 400, json: { errors: [err('Neo.ClientError.Request.Invalid', 'Missing required field: statement')] } };
    }
    try {
      const r = exec(ctx.json.statement, ctx.json.parameters);
      ctx.neo4jScoreCols = [r.scoreCols];
      const out = {
        data: {
          fields: r.columns,
          values: queryValues(r),
        },
      };
      if (ctx.json.includeCounters) out.counters = zeroCounters(true);
      out.bookmarks = [bookmark()];
      return { status: 202, json: out };
    } catch (e) {
      if (!(e instanceof CypherError)) throw e;
      const status = e.code.startsWith('Neo.DatabaseError') ? 500 : 400;
      return { status, json: { errors: [err(e.code, e.message)] } };
    }
  }

  function handler(ctx) {
    if (ctx.method === 'GET' && ctx.path === '/') {
      const host = ctx.headers.host || 'localhost:7474';
      const bare = host.replace(/:\d+$/, '');
      return {
        status: 200,
        json: {
          bolt_routing: `neo4j://${bare}:7687`,
          query: `http://${host}/db/{databaseName}/query/v2`,
          transaction: `http://${host}/db/{databaseName}/tx`,
          bolt_direct: `bolt://${bare}:7687`,
          neo4j_version: version,
          neo4j_edition: 'community',
        },
      };
    }
    const m = ROUTE_RE.exec(ctx.path);
    if (!m || ctx.method !== 'POST') {
      return { status: 404, json: { errors: [err('Neo.ClientError.Request.Invalid', `No endpoint ${ctx.method} ${ctx.path}`)] } };
    }
    const authError = checkAuth(ctx.headers, user, password);
    if (authError) return unauthorized(authError);
    const db = decodeURIComponent(m[1]);
    if (db !== 'neo4j') {
      const e = err('Neo.ClientError.Database.DatabaseNotFound', `Database does not exist. Database name: '${db}'.`);
      return { status: 404, json: { errors: [e] } };
    }
    return m[2] === 'tx/commit' ? txCommit(ctx) : queryV2(ctx);
  }

  const adapter = {
    errorResponse,
    malformed: (ctx) => (isTx(ctx) ? '{"results": [{"columns": ["id", "score"], "data": [' : '{"data": {"fields": ["id", "score"], "values": ['),
    dupids(o) {
      for (const r of o.results || []) r.data = r.data.flatMap((d) => [d, structuredClone(d)]);
      if (o.data && Array.isArray(o.data.values)) o.data.values = o.data.values.flatMap((v) => [v, structuredClone(v)]);
      return o;
    },
    nan(o, ctx) {
      const cols = ctx.neo4jScoreCols || [];
      (o.results || []).forEach((r, i) => r.data.forEach((d) => (cols[i] || []).forEach((c) => { d.row[c] = NAN; })));
      if (o.data && Array.isArray(o.data.values)) o.data.values.forEach((v) => (cols[0] || []).forEach((c) => { v[c] = NAN; }));
      return o;
    },
    neo4jerror(ctx, real) {
      const e = err('Neo.TransientError.General.DatabaseUnavailable', "Database 'neo4j' is unavailable.");
      if (isTx(ctx)) return { status: 200, json: { results: [], errors: [e] } };
      // Query API: the failure happened after streaming began, so the status
      // stays 202 and `errors` follows whatever data was already sent.
      const data = real?.json?.data ?? { fields: [], values: [] };
      return { status: 202, json: { data, errors: [e] } };
    },
  };

  return createTestServer({ name: 'neo4j', log, adapter, handler });
}

function zeroCounters(queryApi) {
  const c = {
    contains_updates: false, nodes_created: 0, nodes_deleted: 0, properties_set: 0,
    relationships_created: 0, relationship_deleted: 0, labels_added: 0, labels_removed: 0,
    indexes_added: 0, indexes_removed: 0, constraints_added: 0, constraints_removed: 0,
    contains_system_updates: false, system_updates: 0,
  };
  if (!queryApi) return c;
  // the Query API spells them in camelCase and fixes the tx API's "relationship_deleted"
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [
    k === 'relationship_deleted' ? 'relationshipsDeleted' : k.replace(/_([a-z])/g, (_, x) => x.toUpperCase()), v]));
}
