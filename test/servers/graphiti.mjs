// graphiti.mjs - a Graphiti REST service stand-in (getzep/graphiti,
// server/graph_service): POST /search and GET /healthcheck over facts
// derived from the fixture corpus. Wire format: /work/shared/wire-formats.md
// section 5.
//
// The facts are a contract (tests compute expectations from them), so the
// derivation must never change silently. One fact per corpus item:
//   uuid       UUID version 5 (RFC 4122, SHA-1) of the name "apex-test:fact:<id>"
//              in the URL namespace 6ba7b811-9dad-11d1-80b4-00c04fd430c8,
//              e.g. factUuid('m01');
//   name       the relation, by item kind: person WORKS_ON, project PART_OF,
//              meeting DISCUSSED_IN, note MENTIONED_IN, decision DECIDED_IN;
//   fact       the item's text;
//   group_id   "team", except "other" for the items in OTHER_GROUP;
//   valid_at, created_at   the item's created_at, written as Python's
//              isoformat() does ("2026-10-01T09:00:00+00:00");
//   invalid_at, expired_at null, except the items in TEMPORAL: facts that
//              stopped being true in the past (invalid_at or expired_at set
//              in October 2026) and one that only becomes invalid in 2099.
// The server returns facts whatever their validity (leaving out facts that
// are no longer true is the client's job), ranked by the Neo4j test server's
// full-text scoring (cypher.mjs FulltextIndex) over the fact text, ties by
// corpus id. `group_ids` (a list) or the legacy `group_id` (a string) filter
// by group; none (or an empty list) searches every group. `max_facts`
// defaults to 10.
//
// A second deployment is mounted at /eval (as behind a reverse proxy: its
// /eval/search and /eval/healthcheck), holding the evaluation set's facts
// (eval.mjs; group "eval", uuid = the item's id, valid_at and invalid_at as
// the item gives them), so that the facts above and their scores stay as
// they are.
//
// Errors follow FastAPI: request validation -> 422 {"detail":[{"loc","msg",
// "type"}]}, HTTPException -> {"detail":"..."}, an unhandled error -> 500
// text/plain "Internal Server Error". With an API key (GRAPHITI_API_KEY),
// POST /search needs `Authorization: Bearer <key>` (else 401
// {"detail":"Invalid API key"}); /healthcheck is always open.
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { createTestServer } from './http.mjs';
import { FulltextIndex } from './cypher.mjs';
import { escapeQueryText } from './lucene.mjs';
import { evalItems } from './eval.mjs';

// graphiti_core/search/search_utils.py's MAX_QUERY_LENGTH
const GRAPHITI_MAX_QUERY_LENGTH = 32;

const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';
const RELATION = { person: 'WORKS_ON', project: 'PART_OF', meeting: 'DISCUSSED_IN', note: 'MENTIONED_IN', decision: 'DECIDED_IN' };
export const OTHER_GROUP = new Set(['m36', 'm39']);
export const TEMPORAL = {
  m13: { invalid_at: '2026-10-20T00:00:00+00:00' },
  m16: { invalid_at: '2026-10-25T12:00:00+00:00' },
  m22: { expired_at: '2026-10-28T08:30:00+00:00' },
  m27: { invalid_at: '2026-10-30T00:00:00+00:00', expired_at: '2026-10-30T00:00:05+00:00' },
  m34: { invalid_at: '2099-01-01T00:00:00+00:00' },
};

/** UUID v5 of `name` in the URL namespace (RFC 4122 section 4.3). */
export function factUuid(id) {
  const ns = Buffer.from(URL_NAMESPACE.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(`apex-test:fact:${id}`, 'utf8').digest().subarray(0, 16);
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const isoformat = (t) => new Date(t).toISOString().replace(/\.000Z$/, '+00:00').replace(/Z$/, '+00:00');

/** The facts of the corpus, in corpus order: [{id, group_id, fact: <wire object>}]. */
export function corpusFacts(corpus) {
  return corpus.map((it) => ({
    id: it.id,
    group_id: OTHER_GROUP.has(it.id) ? 'other' : 'team',
    fact: {
      uuid: factUuid(it.id),
      name: RELATION[it.kind] ?? 'RELATES_TO',
      fact: it.text,
      valid_at: isoformat(it.created_at),
      invalid_at: TEMPORAL[it.id]?.invalid_at ?? null,
      created_at: isoformat(it.created_at),
      expired_at: TEMPORAL[it.id]?.expired_at ?? null,
    },
  }));
}

const validation = (loc, msg, type) => ({ status: 422, json: { detail: [{ loc, msg, type }] } });

function errorResponse(status) {
  if (status === 422) return validation(['body', 'query'], 'field required', 'value_error.missing');
  if (status === 401) return { status, json: { detail: 'Invalid API key' } };
  if (status === 500) return { status, text: 'Internal Server Error', contentType: 'text/plain; charset=utf-8' };
  return { status, json: { detail: `${STATUS_CODES[status] ?? 'Error'} (injected fault)` } };
}

/** The evaluation set's facts (eval.mjs), in the shape of corpusFacts'. */
export function evalFacts(items) {
  return items.map((it) => ({
    id: it.id,
    group_id: 'eval',
    fact: {
      uuid: it.id,
      name: it.relation ?? 'RELATES_TO',
      fact: it.text,
      valid_at: isoformat(it.valid_at ?? it.created_at),
      invalid_at: it.invalid_at ? isoformat(it.invalid_at) : null,
      created_at: isoformat(it.created_at),
      expired_at: null,
    },
  }));
}

export function createGraphitiServer({ corpus, evalSet = evalItems('graphiti'), log, apiKey = null }) {
  const team = deployment(corpusFacts(corpus), apiKey);
  const evaluation = deployment(evalFacts(evalSet), apiKey);

  function handler(ctx) {
    if (ctx.path === '/eval' || ctx.path.startsWith('/eval/')) {
      return evaluation({ ...ctx, path: ctx.path.slice('/eval'.length) });
    }
    return team(ctx);
  }

  const adapter = {
    errorResponse,
    malformed: () => '{"facts": [{"uuid": ',
    dupids(o) {
      if (Array.isArray(o.facts)) o.facts = o.facts.flatMap((f) => [f, structuredClone(f)]);
      return o;
    },
  };

  return createTestServer({ name: 'graphiti', log, adapter, handler });
}

// One Graphiti service over `facts`: its request handler.
function deployment(facts, apiKey) {
  // uid = corpus id, so FulltextIndex breaks score ties by corpus id
  const index = new FulltextIndex('facts', ['fact'],
    facts.map((f) => ({ properties: { uid: f.id, fact: f.fact.fact }, entry: f })));

  function search(ctx) {
    if (apiKey !== null) {
      const m = /^bearer\s+(\S+)\s*$/i.exec(ctx.headers.authorization || '');
      if (!m || m[1] !== apiKey) return { status: 401, json: { detail: 'Invalid API key' } };
    }
    if (ctx.jsonError !== null) return validation(['body', 0], `Expecting value: ${ctx.jsonError}`, 'value_error.jsondecode');
    const b = ctx.json;
    if (!b || typeof b !== 'object' || Array.isArray(b)) return validation(['body'], 'value is not a valid dict', 'type_error.dict');
    if (b.query === undefined || b.query === null) return validation(['body', 'query'], 'field required', 'value_error.missing');
    if (typeof b.query !== 'string') return validation(['body', 'query'], 'str type expected', 'type_error.str');
    let groups = null;
    if (b.group_ids !== undefined && b.group_ids !== null) {
      if (!Array.isArray(b.group_ids)) return validation(['body', 'group_ids'], 'value is not a valid list', 'type_error.list');
      const bad = b.group_ids.findIndex((g) => typeof g !== 'string');
      if (bad >= 0) return validation(['body', 'group_ids', bad], 'str type expected', 'type_error.str');
      if (b.group_ids.length) groups = new Set(b.group_ids);
    } else if (b.group_id !== undefined && b.group_id !== null) {
      if (typeof b.group_id !== 'string') return validation(['body', 'group_id'], 'str type expected', 'type_error.str');
      groups = new Set([b.group_id]);
    }
    const max = b.max_facts ?? 10;
    if (!Number.isInteger(max)) return validation(['body', 'max_facts'], 'value is not a valid integer', 'type_error.integer');
    // Graphiti escapes the text for Lucene before its full-text search
    // (graphiti_core's lucene_sanitize): the words are searched as words.
    // A long question gets no full-text search at all: fulltext_query
    // (graphiti_core/search/search_utils.py) returns '' when the escaped
    // text's space-separated pieces plus the group ids reach
    // MAX_QUERY_LENGTH (32), and the search finds nothing that way; so it
    // never meets Lucene's clause limit.
    const sanitized = escapeQueryText(b.query);
    if (sanitized.split(' ').length + (groups ? groups.size : 0) >= GRAPHITI_MAX_QUERY_LENGTH) {
      return { status: 200, json: { facts: [] } };
    }
    const hits = index.query(sanitized)
      .map((h) => h.node.entry)
      .filter((f) => groups === null || groups.has(f.group_id));
    return { status: 200, json: { facts: hits.slice(0, Math.max(0, max)).map((f) => f.fact) } };
  }

  function handler(ctx) {
    if (ctx.path === '/healthcheck') {
      return ctx.method === 'GET' ? { status: 200, json: { status: 'healthy' } } : { status: 405, json: { detail: 'Method Not Allowed' } };
    }
    if (ctx.path === '/search') {
      return ctx.method === 'POST' ? search(ctx) : { status: 405, json: { detail: 'Method Not Allowed' } };
    }
    return { status: 404, json: { detail: 'Not Found' } };
  }

  return handler;
}
