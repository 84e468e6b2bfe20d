// qdrant.mjs - a Qdrant REST stand-in: in-memory collections with exact
// (brute-force) search, following /work/shared/wire-formats.md section 1.
//
// Envelopes: success {"result":..., "status":"ok", "time":<seconds>}; errors
// {"status":{"error":"..."}, "time":...} with no `result`. 401s are plain text,
// as Qdrant's auth middleware answers before any JSON handling.
// Vectors are stored as float32 like Qdrant does, and Cosine collections store
// them normalised (so with_vector returns the normalised vector, as Qdrant does).
import { createTestServer } from './http.mjs';
import { NAN } from './faults.mjs';
import { embed } from './embed.mjs';
import { loadTenants } from './corpus.mjs';
import { Memo, share } from './memo.mjs';
import { evalItems } from './eval.mjs';

const DISTANCES = ['Cosine', 'Euclid', 'Dot', 'Manhattan'];
const UUID_RE = /^(?:urn:uuid:)?\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;

class QdrantError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
const wrongInput = (m) => new QdrantError(400, `Wrong input: ${m}`);
const formatError = (m) => new QdrantError(400, `Format error in JSON body: ${m}`);
const validationError = (m) => new QdrantError(422, `Validation error in JSON body: ${m}`);
const notFound = (name) => new QdrantError(404, `Not found: Collection \`${name}\` doesn't exist!`);

/** Point id: unsigned integer or UUID (normalised to lower-case hyphenated form). */
function parseId(id) {
  if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) return id;
  if (typeof id === 'string') {
    const m = UUID_RE.exec(id);
    if (m) return m.slice(1).join('-').toLowerCase();
  }
  throw formatError(`data did not match any variant of untagged enum ExtendedPointId: ${JSON.stringify(id)}`);
}
const idKey = (id) => (typeof id === 'number' ? `n:${id}` : `u:${id}`);
function compareIds(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function l2normalize(v) {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return n === 0 ? Array.from(v) : Array.from(v, (x) => x / n);
}

class Collection {
  constructor(name, vectorsConfig) {
    this.name = name;
    // Unnamed config {size, distance} is stored under the name "".
    if (vectorsConfig && typeof vectorsConfig.size !== 'undefined') {
      this.unnamed = true;
      this.vectors = { '': checkParams(vectorsConfig, 'vectors') };
    } else {
      this.unnamed = false;
      this.vectors = {};
      for (const [k, p] of Object.entries(vectorsConfig || {})) this.vectors[k] = checkParams(p, `vectors.${k}`);
    }
    this.points = new Map();
    this.payloadSchema = {};
    this.nextOp = 0;
    // search results until the points change (upsert, delete: changed())
    this.memo = new Memo(64);
  }

  changed() { this.memo.clear(); }

  params(name) {
    const p = this.vectors[name ?? ''];
    if (!p) throw wrongInput(`Not existing vector name error: ${name ?? ''}`);
    return p;
  }

  /** Float32 copy of `vec` for vector `name`, normalised for Cosine; checks the dimension. */
  prepare(name, vec) {
    const p = this.params(name);
    if (!Array.isArray(vec) || !vec.every((x) => typeof x === 'number')) {
      throw formatError(`vector ${JSON.stringify(name)} must be an array of numbers`);
    }
    if (vec.length !== p.size) throw wrongInput(`Vector dimension error: expected dim: ${p.size}, got ${vec.length}`);
    return Float32Array.from(p.distance === 'Cosine' ? l2normalize(vec) : vec);
  }

  upsert(points) {
    const op = this.nextOp++;
    const prepared = points.map((pt) => {
      if (!pt || typeof pt !== 'object') throw formatError('points must be objects');
      const id = parseId(pt.id);
      if (pt.vector === undefined) throw formatError('missing field `vector`');
      const vectors = {};
      if (Array.isArray(pt.vector)) vectors[''] = this.prepare('', pt.vector);
      else if (pt.vector && typeof pt.vector === 'object') {
        for (const [k, v] of Object.entries(pt.vector)) vectors[k] = this.prepare(k, v);
      } else throw formatError('vector must be an array or an object of named vectors');
      if (pt.payload != null && (typeof pt.payload !== 'object' || Array.isArray(pt.payload))) {
        throw formatError('payload must be an object');
      }
      return { id, version: op, vectors, payload: pt.payload ?? {} };
    });
    for (const p of prepared) this.points.set(idKey(p.id), p); // all-or-nothing: validated first
    this.changed();
    return op;
  }

  info() {
    const vectors = this.unnamed ? { ...this.vectors[''] } : structuredClone(this.vectors);
    return {
      status: 'green',
      optimizer_status: 'ok',
      indexed_vectors_count: 0,
      points_count: this.points.size,
      segments_count: 2,
      config: {
        params: { vectors, shard_number: 1, replication_factor: 1, write_consistency_factor: 1, on_disk_payload: true },
        hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false },
        optimizer_config: {
          deleted_threshold: 0.2, vacuum_min_vector_number: 1000, default_segment_number: 0, max_segment_size: null,
          memmap_threshold: null, indexing_threshold: 20000, flush_interval_sec: 5, max_optimization_threads: null,
        },
        wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
        quantization_config: null,
        strict_mode_config: { enabled: false },
      },
      payload_schema: structuredClone(this.payloadSchema),
    };
  }
}

const PAYLOAD_SCHEMA_TYPES = ['keyword', 'integer', 'float', 'geo', 'text', 'bool', 'datetime', 'uuid'];

function checkParams(p, where) {
  if (!p || typeof p !== 'object') throw formatError(`${where}: expected an object with size and distance`);
  if (!Number.isInteger(p.size)) throw formatError(`${where}: missing or invalid field \`size\``);
  if (p.size < 1) throw validationError(`[${where}.size: value ${p.size} invalid, must be from 1 to 65536]`);
  if (!DISTANCES.includes(p.distance)) {
    throw formatError(`unknown variant \`${p.distance}\`, expected one of \`Cosine\`, \`Euclid\`, \`Dot\`, \`Manhattan\``);
  }
  return { size: p.size, distance: p.distance };
}

// ---- scoring, filters, payload selection ----

function score(distance, a, b) {
  let s = 0;
  if (distance === 'Cosine' || distance === 'Dot') for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  else if (distance === 'Euclid') { for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2; s = Math.sqrt(s); }
  else for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return Math.fround(s); // Qdrant computes in f32
}
const higherIsBetter = (d) => d === 'Cosine' || d === 'Dot';

function payloadValues(payload, key) {
  let vals = [payload];
  for (const part of key.split('.')) {
    const next = [];
    for (const v of vals) {
      const x = v && typeof v === 'object' ? v[part.replace(/\[\]$/, '')] : undefined;
      if (Array.isArray(x)) next.push(...x); else if (x !== undefined) next.push(x);
    }
    vals = next;
  }
  return vals;
}

const asList = (x) => (x == null ? [] : Array.isArray(x) ? x : [x]);

// the datetimes Qdrant reads: RFC 3339, 'T' or a space, zone optional (UTC)
const RFC3339 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

function matchCondition(pt, c) {
  if (!c || typeof c !== 'object') throw formatError('filter condition must be an object');
  if ('must' in c || 'should' in c || 'must_not' in c) return matchFilter(pt, c);
  if ('has_id' in c) return asList(c.has_id).map(parseId).some((id) => idKey(id) === idKey(pt.id));
  if ('is_empty' in c) return payloadValues(pt.payload, c.is_empty.key).length === 0;
  if ('is_null' in c) return payloadValues(pt.payload, c.is_null.key).some((v) => v === null);
  if (typeof c.key !== 'string') throw formatError('filter condition needs a `key`');
  const vals = payloadValues(pt.payload, c.key);
  if (c.match) {
    const m = c.match;
    if ('value' in m) return vals.some((v) => v === m.value);
    if ('any' in m) return vals.some((v) => m.any.includes(v));
    if ('except' in m) return vals.length > 0 && vals.every((v) => !m.except.includes(v));
    if ('text' in m) return vals.some((v) => typeof v === 'string' && v.includes(m.text));
    throw formatError('unsupported match condition');
  }
  if (c.range) {
    const r = c.range;
    const bounds = [r.gt, r.gte, r.lt, r.lte].filter((b) => b != null);
    if (bounds.some((b) => typeof b === 'string')) {
      // a DatetimeRange (Qdrant >= 1.8): RFC 3339 bounds, matched against
      // payload strings that parse as datetimes
      const t = (b, what) => {
        if (b == null) return null;
        const ms = typeof b === 'string' && RFC3339.test(b) ? Date.parse(b) : NaN;
        if (Number.isNaN(ms)) throw formatError(`Unable to parse datetime for range.${what}: ${JSON.stringify(b)}`);
        return ms;
      };
      const gt = t(r.gt, 'gt'); const gte = t(r.gte, 'gte'); const lt = t(r.lt, 'lt'); const lte = t(r.lte, 'lte');
      return vals.some((v) => {
        const ms = typeof v === 'string' && RFC3339.test(v) ? Date.parse(v) : NaN;
        return !Number.isNaN(ms) && (gt == null || ms > gt) && (gte == null || ms >= gte) &&
          (lt == null || ms < lt) && (lte == null || ms <= lte);
      });
    }
    return vals.some((v) => typeof v === 'number' && (r.gt == null || v > r.gt) && (r.gte == null || v >= r.gte) &&
      (r.lt == null || v < r.lt) && (r.lte == null || v <= r.lte));
  }
  throw formatError('unsupported filter condition');
}

function matchFilter(pt, f) {
  if (!f) return true;
  const must = asList(f.must);
  const should = asList(f.should);
  const mustNot = asList(f.must_not);
  return must.every((c) => matchCondition(pt, c)) &&
    (should.length === 0 || should.some((c) => matchCondition(pt, c))) &&
    !mustNot.some((c) => matchCondition(pt, c));
}

function selectPayload(payload, wp) {
  if (wp === undefined || wp === null || wp === false) return undefined;
  if (wp === true) return structuredClone(payload);
  const pick = (keys) => Object.fromEntries(Object.entries(payload).filter(([k]) => keys.includes(k)));
  if (Array.isArray(wp)) return pick(wp);
  if (typeof wp === 'object' && 'include' in wp) return pick(asList(wp.include));
  if (typeof wp === 'object' && 'exclude' in wp) {
    const ex = asList(wp.exclude);
    return Object.fromEntries(Object.entries(payload).filter(([k]) => !ex.includes(k)));
  }
  throw formatError('with_payload must be a bool, a list of fields or {include|exclude}');
}

function selectVector(coll, pt, wv) {
  if (!wv) return undefined;
  const names = wv === true ? Object.keys(pt.vectors) : asList(wv);
  if (coll.unnamed && wv === true) return pt.vectors[''] ? Array.from(pt.vectors['']) : undefined;
  return Object.fromEntries(names.filter((n) => pt.vectors[n]).map((n) => [n, Array.from(pt.vectors[n])]));
}

function record(coll, pt, sc, body) {
  const out = { id: pt.id, version: pt.version };
  if (sc !== undefined) out.score = sc;
  const payload = selectPayload(pt.payload, body.with_payload);
  if (payload !== undefined) out.payload = payload;
  const vector = selectVector(coll, pt, body.with_vector);
  if (vector !== undefined) out.vector = vector;
  return out;
}

function checkLimit(body, required) {
  if (body.limit === undefined || body.limit === null) {
    if (required) throw formatError('missing field `limit`');
    return 10;
  }
  if (!Number.isInteger(body.limit) || body.limit < 0) throw formatError(`invalid value: ${JSON.stringify(body.limit)}, expected usize`);
  if (body.limit < 1) throw validationError(`[limit: value ${body.limit} invalid, must be 1 or larger]`);
  return body.limit;
}

/**
 * Exact nearest-neighbour search; `vector` null means "no query": points in
 * id order, score 0.  Memoised per collection until its points change: the
 * key holds everything the search reads (null and undefined, which JSON
 * cannot tell apart, are read alike); the records are shared, never modified.
 */
function search(coll, name, vector, body, limit) {
  const key = JSON.stringify([name, vector, body.filter, body.score_threshold, body.offset, limit, body.with_payload, body.with_vector]);
  return coll.memo.get(key, () => share(searchOnce(coll, name, vector, body, limit)));
}

function searchOnce(coll, name, vector, body, limit) {
  const offset = Number.isInteger(body.offset) ? body.offset : 0;
  let hits = [];
  if (vector === null) {
    for (const pt of coll.points.values()) if (matchFilter(pt, body.filter)) hits.push({ pt, sc: 0 });
    hits.sort((a, b) => compareIds(a.pt.id, b.pt.id));
  } else {
    const p = coll.params(name);
    const q = coll.prepare(name, vector);
    const better = higherIsBetter(p.distance);
    for (const pt of coll.points.values()) {
      const v = pt.vectors[name ?? ''];
      if (!v || !matchFilter(pt, body.filter)) continue;
      const sc = score(p.distance, q, v);
      if (typeof body.score_threshold === 'number' && (better ? sc < body.score_threshold : sc > body.score_threshold)) continue;
      hits.push({ pt, sc });
    }
    hits.sort((a, b) => (better ? b.sc - a.sc : a.sc - b.sc) || compareIds(a.pt.id, b.pt.id));
  }
  return hits.slice(offset, offset + limit).map(({ pt, sc }) => record(coll, pt, sc, body));
}

// ---- HTTP ----

export function createQdrantServer({ corpus, evalDocs = evalItems('qdrant'), log, dim = 64, apiKey = null, version = '1.13.0' }) {
  const collections = new Map();
  const memory = new Collection('memory', { size: dim, distance: 'Cosine' });
  memory.upsert(corpus.map((it, i) => ({
    id: i + 1,
    vector: embed(`${it.title} ${it.text}`, dim),
    payload: { doc_id: it.id, title: it.title, text: it.text, kind: it.kind },
  })));
  collections.set('memory', memory);
  // The same corpus as LangChain's QdrantVectorStore writes it: UUID point
  // ids, {"page_content", "metadata"} payloads.  m02's metadata lacks doc_id
  // and m03's is not a string or number (issue 11 item 5: such points are
  // skipped by a source whose id_field is metadata.doc_id).
  const langchain = new Collection('langchain', { size: dim, distance: 'Cosine' });
  langchain.upsert(corpus.map((it, i) => {
    const metadata = { doc_id: it.id, title: it.title, kind: it.kind, headings: [it.title, 'Summary'], 'dc.source': 'corpus.json' };
    if (it.id === 'm02') delete metadata.doc_id;
    if (it.id === 'm03') metadata.doc_id = { $oid: '6560a1f0c2' };
    return {
      id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
      vector: embed(`${it.title} ${it.text}`, dim),
      payload: { page_content: it.text, metadata },
    };
  }));
  collections.set('langchain', langchain);
  // the per-user memories (corpus.mjs loadTenants), user_id in the payload
  const tenants = new Collection('tenants', { size: dim, distance: 'Cosine' });
  tenants.upsert(loadTenants().map((it, i) => ({
    id: i + 1,
    vector: embed(`${it.title} ${it.text}`, dim),
    payload: { doc_id: it.id, user_id: it.user_id, title: it.title, text: it.text, created_at: it.created_at },
  })));
  collections.set('tenants', tenants);
  // The evaluation set's documents (eval.mjs), in a collection of their own
  const evalColl = new Collection('eval', { size: dim, distance: 'Cosine' });
  evalColl.upsert(evalDocs.map((it, i) => ({
    id: i + 1,
    vector: embed(`${it.title} ${it.text}`, dim),
    payload: { doc_id: it.id, title: it.title, text: it.text, kind: it.kind, created_at: it.created_at },
  })));
  collections.set('eval', evalColl);

  const getColl = (name) => {
    const c = collections.get(name);
    if (!c) throw notFound(name);
    return c;
  };
  const bodyOf = (ctx) => {
    if (ctx.jsonError !== null) throw formatError(`${ctx.jsonError} at line 1 column 1`);
    const b = ctx.json ?? {};
    if (typeof b !== 'object' || Array.isArray(b)) throw formatError('invalid type: expected a JSON object');
    return b;
  };

  function queryVector(q) {
    if (q === undefined || q === null) return null;
    if (Array.isArray(q)) return q;
    if (typeof q === 'object' && Array.isArray(q.nearest)) return q.nearest;
    if (typeof q === 'object' && ('text' in q || 'document' in q || 'model' in q)) {
      throw new QdrantError(500, 'Service internal error: InferenceService is not initialized. Please check if it was properly configured and initialized');
    }
    throw new QdrantError(400, 'Bad request: this test server only supports dense vector queries ([..] or {"nearest":[..]})');
  }

  const routes = [
    ['GET', /^\/collections$/, () => ({ collections: [...collections.keys()].map((name) => ({ name })) })],
    ['GET', /^\/collections\/([^/]+)$/, (ctx, name) => getColl(name).info()],
    ['GET', /^\/collections\/([^/]+)\/exists$/, (ctx, name) => ({ exists: collections.has(name) })],
    ['PUT', /^\/collections\/([^/]+)$/, (ctx, name) => {
      const b = bodyOf(ctx);
      if (collections.has(name)) throw new QdrantError(409, `Wrong input: Collection \`${name}\` already exists!`);
      collections.set(name, new Collection(name, b.vectors));
      return true;
    }],
    ['DELETE', /^\/collections\/([^/]+)$/, (ctx, name) => collections.delete(name)],
    // a payload index (PUT /collections/{name}/index): {field_name, field_schema}, the
    // schema a type name or an object with its `type`; recorded in the collection's info
    ['PUT', /^\/collections\/([^/]+)\/index$/, (ctx, name) => {
      const b = bodyOf(ctx);
      const coll = getColl(name);
      if (typeof b.field_name !== 'string') throw formatError('missing field `field_name`');
      const type = typeof b.field_schema === 'string' ? b.field_schema : b.field_schema?.type;
      if (!PAYLOAD_SCHEMA_TYPES.includes(type)) {
        throw formatError(`unknown variant \`${type}\`, expected one of ${PAYLOAD_SCHEMA_TYPES.map((t) => `\`${t}\``).join(', ')}`);
      }
      coll.payloadSchema[b.field_name] = { data_type: type, points: coll.points.size };
      return { operation_id: coll.nextOp++, status: ctx.query.get('wait') === 'true' ? 'completed' : 'acknowledged' };
    }],
    ['PUT', /^\/collections\/([^/]+)\/points$/, (ctx, name) => {
      const b = bodyOf(ctx);
      const coll = getColl(name);
      let points = b.points;
      if (!points && b.batch) {
        const { ids = [], vectors = [], payloads = [] } = b.batch;
        points = ids.map((id, i) => ({ id, vector: Array.isArray(vectors) ? vectors[i] : Object.fromEntries(Object.entries(vectors).map(([k, v]) => [k, v[i]])), payload: payloads[i] }));
      }
      if (!Array.isArray(points)) throw formatError('data did not match any variant of untagged enum PointInsertOperations');
      const op = coll.upsert(points);
      return { operation_id: op, status: ctx.query.get('wait') === 'true' ? 'completed' : 'acknowledged' };
    }],
    ['POST', /^\/collections\/([^/]+)\/points\/delete$/, (ctx, name) => {
      const b = bodyOf(ctx);
      const coll = getColl(name);
      if (Array.isArray(b.points)) {
        coll.changed(); // before a bad id can stop the loop half-way
        for (const id of b.points) coll.points.delete(idKey(parseId(id)));
      } else if (b.filter) {
        coll.changed();
        for (const [k, pt] of coll.points) if (matchFilter(pt, b.filter)) coll.points.delete(k);
      } else {
        throw formatError('expected `points` or `filter`');
      }
      return { operation_id: coll.nextOp++, status: ctx.query.get('wait') === 'true' ? 'completed' : 'acknowledged' };
    }],
    ['POST', /^\/collections\/([^/]+)\/points$/, (ctx, name) => {
      const b = bodyOf(ctx);
      const coll = getColl(name);
      if (!Array.isArray(b.ids)) throw formatError('missing field `ids`');
      return b.ids.map(parseId).map((id) => coll.points.get(idKey(id))).filter(Boolean)
        .map((pt) => { const r = record(coll, pt, undefined, { with_payload: b.with_payload ?? true, with_vector: b.with_vector }); delete r.version; return r; });
    }],
    ['POST', /^\/collections\/([^/]+)\/points\/query$/, (ctx, name) => {
      const b = bodyOf(ctx);
      const coll = getColl(name);
      if (b.prefetch) throw new QdrantError(400, 'Bad request: prefetch is not supported by this test server');
      const limit = checkLimit(b, false);
      return { points: search(coll, b.using ?? null, queryVector(b.query), b, limit) };
    }],
    ['POST', /^\/collections\/([^/]+)\/points\/search$/, (ctx, name) => {
      const b = bodyOf(ctx);
      const coll = getColl(name);
      if (b.vector === undefined) throw formatError('missing field `vector`');
      const limit = checkLimit(b, true);
      const named = b.vector && !Array.isArray(b.vector) && typeof b.vector === 'object';
      return search(coll, named ? b.vector.name : null, named ? b.vector.vector : b.vector, b, limit);
    }],
  ];

  function handler(ctx) {
    const t0 = process.hrtime.bigint();
    const time = () => Number(process.hrtime.bigint() - t0) / 1e9;
    const { method, path } = ctx;
    if (method === 'GET' && path === '/') {
      return { status: 200, json: { title: 'qdrant - vector search engine', version, commit: 'a3c5e8c0f1d2b4a6978e5d3c2b1a09f8e7d6c5b4' } };
    }
    if (method === 'GET' && (path === '/healthz' || path === '/livez')) return { status: 200, text: 'healthz check passed', contentType: 'text/plain; charset=utf-8' };
    if (method === 'GET' && path === '/readyz') return { status: 200, text: 'all shards are ready', contentType: 'text/plain; charset=utf-8' };
    if (apiKey) {
      const given = ctx.headers['api-key'] ?? (/^bearer\s+(\S+)/i.exec(ctx.headers.authorization || '') || [])[1];
      if (given === undefined) return { status: 401, text: 'Must provide an API key or an Authorization bearer token', contentType: 'text/plain; charset=utf-8' };
      if (given !== apiKey) return { status: 401, text: 'Invalid API key or JWT', contentType: 'text/plain; charset=utf-8' };
    }
    for (const [m, re, fn] of routes) {
      const match = re.exec(path);
      if (!match || m !== method) continue;
      try {
        const result = fn(ctx, decodeURIComponent(match[1] ?? ''));
        return { status: 200, json: { result, status: 'ok', time: time() } };
      } catch (e) {
        if (!(e instanceof QdrantError)) throw e;
        return { status: e.status, json: { status: { error: e.message }, time: time() } };
      }
    }
    return { status: 404, text: '', contentType: 'text/plain; charset=utf-8' };
  }

  const collName = (ctx) => (/^\/collections\/([^/]+)/.exec(ctx.path) || [])[1] ?? 'memory';
  const errorMessages = {
    400: () => 'Bad request: injected fault',
    403: () => 'Forbidden: injected fault',
    404: (ctx) => `Not found: Collection \`${collName(ctx)}\` doesn't exist!`,
    408: () => 'Timeout error: injected fault',
    409: (ctx) => `Wrong input: Collection \`${collName(ctx)}\` already exists!`,
    422: () => 'Validation error in JSON body: injected fault',
    // strict mode's rate limiter, as Qdrant 1.13 words it (with Retry-After: 1)
    429: () => 'Rate limiting exceeded: Read rate limit exceeded: Operation requires 1 tokens but only 0.0 were available. Retry after 1s',
    500: () => 'Service internal error: injected fault',
    503: () => 'Service unavailable: injected fault',
  };
  const adapter = {
    errorResponse(status, ctx) {
      if (status === 401) return { status, text: 'Invalid API key or JWT', contentType: 'text/plain; charset=utf-8' };
      const msg = (errorMessages[status] ?? (() => `Service internal error: injected status ${status}`))(ctx);
      return { status, json: { status: { error: msg }, time: 0.000012 }, headers: status === 429 ? { 'Retry-After': '1' } : {} };
    },
    malformed: (ctx) => (ctx.path.endsWith('/points/query') ? '{"result": {"points": [' : '{"result": ['),
    dupids(o) {
      if (Array.isArray(o.result)) o.result = o.result.flatMap((p) => [p, structuredClone(p)]);
      else if (o.result && Array.isArray(o.result.points)) o.result.points = o.result.points.flatMap((p) => [p, structuredClone(p)]);
      return o;
    },
    nan(o) {
      const pts = Array.isArray(o.result) ? o.result : o.result?.points ?? [];
      for (const p of pts) if (p && 'score' in p) p.score = NAN;
      return o;
    },
  };

  const server = createTestServer({ name: 'qdrant', log, adapter, handler });
  server.collections = collections;
  return server;
}
