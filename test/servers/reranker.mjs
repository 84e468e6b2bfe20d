// reranker.mjs - reranking service stand-in speaking two dialects
// (../shared/wire-formats.md section 6):
//   POST /v2/rerank   Cohere's API v2 (Bearer auth when RERANK_API_KEY is set)
//   POST /v1/rerank   Cohere's older path: the same body, plus return_documents
//   POST /rerank      Hugging Face text-embeddings-inference (TEI); Bearer auth
//                     when RERANK_API_KEY is set, as TEI's --api-key
//
// Relevance is real and deterministic: a BM25 score of each document for the
// query's tokens (embed.mjs's tokenize, so stopwords do not count), the
// document frequencies taken over the request's documents (k1 = 1.2,
// b = 0.75), made a logit (bm25 - 2) and squashed by the logistic function
// into (0, 1): Cohere's relevance_score, and TEI's score (TEI's raw_scores
// gives the logit itself).  Results go best first, ties by index, as both
// services answer.
//
// Cohere accepts the models in COHERE_MODELS; TEI serves one model and takes
// at most MAX_CLIENT_BATCH_SIZE texts a request (TEI's default
// --max-client-batch-size).  Errors are the services' own bodies: Cohere
// {"id", "message"}, TEI {"error", "error_type"} with TEI's status per
// error type, and axum's plain-text rejections for a body TEI cannot read.
import { randomUUID } from 'node:crypto';
import { createTestServer } from './http.mjs';
import { NAN } from './faults.mjs';
import { tokenize } from './embed.mjs';

export const COHERE_MODELS = new Set(['rerank-v3.5', 'rerank-english-v3.0', 'rerank-multilingual-v3.0']);
// Cohere's documented most documents a request (rerank best practices)
export const COHERE_MAX_DOCUMENTS = 10000;
// TEI's default --max-client-batch-size
export const MAX_CLIENT_BATCH_SIZE = 32;
export const TEI_MODEL = 'BAAI/bge-reranker-base';

const K1 = 1.2;
const B = 0.75;

/** The logit of each document for the query (BM25 over the request's documents, minus 2). */
export function logits(query, documents) {
  const q = [...new Set(tokenize(query))];
  const docs = documents.map((d) => tokenize(d));
  const n = docs.length;
  const avg = docs.reduce((s, d) => s + d.length, 0) / Math.max(n, 1) || 1;
  const df = new Map(q.map((t) => [t, docs.filter((d) => d.includes(t)).length]));
  return docs.map((d) => {
    let s = 0;
    for (const t of q) {
      const tf = d.filter((x) => x === t).length;
      if (tf === 0) continue;
      const idf = Math.log(1 + (n - df.get(t) + 0.5) / (df.get(t) + 0.5));
      s += idf * (tf * (K1 + 1)) / (tf + K1 * (1 - B + B * d.length / avg));
    }
    return s - 2;
  });
}

export const sigmoid = (x) => 1 / (1 + Math.exp(-x));

/** Indexes and scores best first, ties by index. */
export function ranked(scores) {
  return scores.map((score, index) => ({ index, score }))
    .sort((a, b) => b.score - a.score || a.index - b.index);
}

const cohereError = (status, message) => ({ status, json: { id: randomUUID(), message } });
const teiError = (status, error, errorType) => ({ status, json: { error, error_type: errorType } });
// axum's Json extractor rejections, as TEI's router answers them (text/plain)
const axumRejection = (status, text) => ({ status, text, contentType: 'text/plain; charset=utf-8' });

/** TEI's status for each error type (router/src/http/server.rs) */
const TEI_STATUS = { unhealthy: 503, backend: 500, overloaded: 429, tokenizer: 422, validation: 413, empty: 400 };

const isInt = (v) => Number.isInteger(v);

export function createRerankerServer({ log, apiKey = null }) {
  /** null when the request may go on, else Cohere's 401 */
  function cohereAuth(ctx) {
    if (!apiKey) return null;
    const m = /^bearer\s+(\S+)\s*$/i.exec(ctx.headers.authorization || '');
    if (!m) return cohereError(401, 'no api key supplied');
    // the key itself is never echoed back
    return m[1] === apiKey ? null : cohereError(401, 'invalid api token');
  }

  function cohereRerank(ctx, v1) {
    const denied = cohereAuth(ctx);
    if (denied) return denied;
    if (ctx.jsonError !== null) return cohereError(400, 'invalid request: could not parse the request body as JSON.');
    const b = ctx.json;
    if (!b || typeof b !== 'object' || Array.isArray(b)) return cohereError(400, 'invalid request: the request body must be a JSON object.');
    // v2 requires a model; v1 defaulted to one
    if (b.model === undefined || b.model === null) {
      if (!v1) return cohereError(400, 'invalid request: model is required.');
    } else if (typeof b.model !== 'string') {
      return cohereError(400, 'invalid request: model must be a string.');
    } else if (!COHERE_MODELS.has(b.model)) {
      return cohereError(404, `model '${b.model}' not found, make sure the correct model ID was used and that you have access to the model.`);
    }
    if (typeof b.query !== 'string' || b.query.trim() === '') return cohereError(400, 'invalid request: query must not be empty.');
    if (!Array.isArray(b.documents) || b.documents.length === 0) {
      return cohereError(400, 'invalid request: list of documents must not be empty.');
    }
    if (b.documents.length > COHERE_MAX_DOCUMENTS) {
      return cohereError(400, `invalid request: too many documents, got ${b.documents.length} but the maximum is ${COHERE_MAX_DOCUMENTS}.`);
    }
    // v2 takes strings; v1 also objects with a "text" field
    const texts = [];
    for (const d of b.documents) {
      if (typeof d === 'string') texts.push(d);
      else if (v1 && d && typeof d === 'object' && typeof d.text === 'string') texts.push(d.text);
      else return cohereError(400, `invalid request: documents must be ${v1 ? 'strings or objects with a "text" field' : 'strings'}.`);
    }
    let topN = texts.length;
    if (b.top_n !== undefined && b.top_n !== null) {
      if (!isInt(b.top_n) || b.top_n < 1) return cohereError(400, 'invalid request: top_n must be a positive integer.');
      topN = Math.min(b.top_n, texts.length);
    }
    if (b.max_tokens_per_doc !== undefined && b.max_tokens_per_doc !== null &&
        (!isInt(b.max_tokens_per_doc) || b.max_tokens_per_doc < 1)) {
      return cohereError(400, 'invalid request: max_tokens_per_doc must be a positive integer.');
    }
    if (v1 && b.return_documents !== undefined && typeof b.return_documents !== 'boolean') {
      return cohereError(400, 'invalid request: return_documents must be a boolean.');
    }
    const scores = logits(b.query, texts).map(sigmoid);
    const results = ranked(scores).slice(0, topN).map(({ index, score }) => {
      const r = { index, relevance_score: score };
      if (v1 && b.return_documents) r.document = { text: texts[index] };
      return r;
    });
    return {
      status: 200,
      json: {
        id: randomUUID(),
        results,
        meta: { api_version: { version: v1 ? '1' : '2' }, billed_units: { search_units: 1 } },
      },
    };
  }

  function teiRerank(ctx) {
    if (apiKey) {
      const m = /^bearer\s+(\S+)\s*$/i.exec(ctx.headers.authorization || '');
      // TEI's auth layer answers a bare 401
      if (!m || m[1] !== apiKey) return { status: 401, text: '', contentType: 'text/plain; charset=utf-8' };
    }
    if (!/^application\/json\b/i.test(ctx.headers['content-type'] || '')) {
      return axumRejection(415, 'Expected request with `Content-Type: application/json`');
    }
    if (ctx.jsonError !== null) return axumRejection(400, `Failed to parse the request body as JSON: ${ctx.jsonError}`);
    const b = ctx.json;
    const reject = (what) => axumRejection(422, `Failed to deserialize the JSON body into the target type: ${what}`);
    if (!b || typeof b !== 'object' || Array.isArray(b)) return reject('invalid type: expected struct RerankRequest');
    if (b.query === undefined) return reject('missing field `query`');
    if (typeof b.query !== 'string') return reject('query: invalid type: expected a string');
    if (b.texts === undefined) return reject('missing field `texts`');
    if (!Array.isArray(b.texts) || !b.texts.every((t) => typeof t === 'string')) {
      return reject('texts: invalid type: expected a sequence of strings');
    }
    for (const f of ['raw_scores', 'return_text', 'truncate']) {
      if (b[f] !== undefined && b[f] !== null && typeof b[f] !== 'boolean') return reject(`${f}: invalid type: expected a boolean`);
    }
    if (b.truncation_direction !== undefined && !['left', 'right', 'Left', 'Right'].includes(b.truncation_direction)) {
      return reject('truncation_direction: unknown variant, expected `Left` or `Right`');
    }
    if (b.texts.length === 0) return teiError(TEI_STATUS.empty, '`texts` cannot be empty', 'empty');
    if (b.texts.length > MAX_CLIENT_BATCH_SIZE) {
      return teiError(TEI_STATUS.validation,
        `batch size ${b.texts.length} > maximum allowed batch size ${MAX_CLIENT_BATCH_SIZE}`, 'validation');
    }
    const raw = logits(b.query, b.texts);
    return {
      status: 200,
      json: ranked(b.raw_scores ? raw : raw.map(sigmoid)).map(({ index, score }) => (
        b.return_text ? { index, text: b.texts[index], score } : { index, score })),
    };
  }

  function handler(ctx) {
    if (ctx.method === 'POST' && ctx.path === '/v2/rerank') return cohereRerank(ctx, false);
    if (ctx.method === 'POST' && ctx.path === '/v1/rerank') return cohereRerank(ctx, true);
    if (ctx.method === 'POST' && ctx.path === '/rerank') return teiRerank(ctx);
    if (ctx.method === 'GET' && ctx.path === '/info') {
      return { status: 200, json: { model_id: TEI_MODEL, model_type: { reranker: { id2label: { 0: 'LABEL_0' } } }, max_client_batch_size: MAX_CLIENT_BATCH_SIZE } };
    }
    if (ctx.path.startsWith('/v1/') || ctx.path.startsWith('/v2/')) return cohereError(404, `route ${ctx.method} ${ctx.path} not found`);
    return { status: 404, text: '', contentType: 'text/plain; charset=utf-8' };
  }

  const isTei = (ctx) => !ctx.path.startsWith('/v1/') && !ctx.path.startsWith('/v2/');
  const adapter = {
    errorResponse(status, ctx) {
      if (isTei(ctx)) {
        const type = Object.keys(TEI_STATUS).find((t) => TEI_STATUS[t] === status) ?? 'backend';
        const msg = {
          overloaded: 'Model is overloaded (injected fault)',
          unhealthy: 'Model is unhealthy (injected fault)',
          backend: 'Backend error (injected fault)',
          tokenizer: 'Tokenizer error (injected fault)',
          validation: 'Validation error (injected fault)',
          empty: 'Empty request (injected fault)',
        }[type];
        return teiError(status, msg, type);
      }
      const msg = {
        400: 'invalid request: injected fault.',
        401: 'invalid api token',
        404: "model 'rerank-v3.5' not found (injected fault).",
        429: "You are using a Trial key, which is limited to 10 API calls / minute. (injected fault)",
        500: 'internal server error, this has been reported to our developers. (injected fault)',
        503: 'service unavailable (injected fault)',
      }[status] ?? `request failed with status ${status} (injected fault).`;
      return cohereError(status, msg);
    },
    malformed: (ctx) => (isTei(ctx) ? '[{"index": 0, "score": ' : '{"id": "x", "results": [{"index": 0,'),
    dupids(o) {
      if (Array.isArray(o)) return o.flatMap((r) => [r, { ...r }]);
      if (Array.isArray(o.results)) o.results = o.results.flatMap((r) => [r, { ...r }]);
      return o;
    },
    nan(o) {
      for (const r of Array.isArray(o) ? o : (o.results ?? [])) {
        if ('score' in r) r.score = NAN;
        if ('relevance_score' in r) r.relevance_score = NAN;
      }
      return o;
    },
  };

  return createTestServer({ name: 'reranker', log, adapter, handler });
}
