// embedder.mjs - embedding service stand-in speaking two dialects:
//   POST /v1/embeddings   OpenAI-compatible (Bearer auth when EMBED_API_KEY is set)
//   GET  /v1/models       OpenAI-compatible model list
//   POST /api/embed       Ollama (no auth, as Ollama has none)
// Vectors come from embed.mjs, so every client can recompute them. The only
// model is `test-embed` (Ollama also accepts `test-embed:latest`). An array
// input is answered in its order (OpenAI: data[i].index = i), and OpenAI's
// limits on an array apply (MAX_INPUTS, MAX_REQUEST_TOKENS).
// Values are rounded to float32 so that the float and base64 encodings carry
// exactly the same numbers.
import { createTestServer } from './http.mjs';
import { NAN } from './faults.mjs';
import { countTokens, embed, normalize } from './embed.mjs';
import { Memo, share } from './memo.mjs';

export const MODEL = 'test-embed';
// OpenAI's limits on one /v1/embeddings request (Ollama's /api/embed has none)
export const MAX_INPUTS = 2048;
export const MAX_REQUEST_TOKENS = 300000;
const CREATED = 1767225600; // fixed "created" timestamp of the model

const openaiError = (status, message, code = null, param = null, type = 'invalid_request_error') =>
  ({ status, json: { error: { message, type, param, code } } });
const ollamaError = (status, error) => ({ status, json: { error } });

function toBase64(vec) {
  const f = Float32Array.from(vec);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64'); // little-endian on all our hosts
}

export function createEmbedderServer({ log, dim = 64, apiKey = null }) {
  // a text's vector (and its base64 form) is computed once: shared by the
  // answers, never modified (the faults that edit an answer edit a copy)
  const vectors = new Memo(1024);
  const base64s = new Memo(1024);
  const vectorFor = (text, dims) => vectors.get(`${dims}\u0000${text}`, () => {
    const full = embed(text, dim);
    const v = dims && dims < dim ? normalize(full.slice(0, dims)) : full;
    return share(v.map((x) => Math.fround(x)));
  });
  const base64For = (text, dims) => base64s.get(`${dims}\u0000${text}`, () => toBase64(vectorFor(text, dims)));

  function openaiEmbeddings(ctx) {
    if (apiKey) {
      const m = /^bearer\s+(\S+)\s*$/i.exec(ctx.headers.authorization || '');
      if (!m) {
        return openaiError(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", null);
      }
      // The key itself is never echoed back (OpenAI shows a masked form).
      if (m[1] !== apiKey) return openaiError(401, 'Incorrect API key provided. You can find your API key in the test server configuration (EMBED_API_KEY).', 'invalid_api_key');
    }
    if (ctx.jsonError !== null) {
      return openaiError(400, `We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)`);
    }
    const b = ctx.json;
    if (!b || typeof b !== 'object' || Array.isArray(b)) return openaiError(400, 'The request body must be a JSON object.');
    if (b.model === undefined) return openaiError(400, 'you must provide a model parameter');
    if (b.model !== MODEL) {
      return openaiError(404, `The model \`${b.model}\` does not exist or you do not have access to it.`, 'model_not_found');
    }
    const inputs = typeof b.input === 'string' ? [b.input] : b.input;
    if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((s) => typeof s === 'string')) {
      return openaiError(400, "'input' must be a non-empty string or a non-empty array of strings.", null, 'input');
    }
    // OpenAI's schema refuses an empty text and an array of more than 2048
    // (the API reference: "any array must be 2048 dimensions or less")
    if (inputs.some((s) => s.length === 0) || inputs.length > MAX_INPUTS) {
      return openaiError(400, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", null, 'input');
    }
    let dims = null;
    if (b.dimensions !== undefined && b.dimensions !== null) {
      if (!Number.isInteger(b.dimensions) || b.dimensions < 1) {
        return openaiError(400, `Invalid value for 'dimensions' = ${b.dimensions}. Must be a positive integer.`, null, 'dimensions');
      }
      if (b.dimensions > dim) {
        return openaiError(400, `This model supports at most ${dim} dimensions; requested ${b.dimensions}.`, null, 'dimensions');
      }
      dims = b.dimensions;
    }
    const format = b.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      return openaiError(400, `Invalid value for 'encoding_format': '${format}'. Supported values are: 'float' and 'base64'.`, null, 'encoding_format');
    }
    ctx.embedFormat = format;
    const tokens = inputs.reduce((n, s) => n + countTokens(s), 0);
    // and more than 300,000 tokens summed over the inputs of one request
    if (tokens > MAX_REQUEST_TOKENS) {
      return openaiError(400, `Requested ${tokens} tokens, max ${MAX_REQUEST_TOKENS} tokens per request`, 'max_tokens_per_request', null);
    }
    return {
      status: 200,
      json: {
        object: 'list',
        data: inputs.map((s, index) => {
          return { object: 'embedding', index, embedding: format === 'base64' ? base64For(s, dims) : vectorFor(s, dims) };
        }),
        model: MODEL,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      },
    };
  }

  function ollamaEmbed(ctx) {
    const t0 = process.hrtime.bigint();
    if (ctx.jsonError !== null) return ollamaError(400, `invalid character in JSON body: ${ctx.jsonError}`);
    const b = ctx.json;
    if (!b || typeof b !== 'object') return ollamaError(400, 'invalid request body');
    if (!b.model) return ollamaError(400, 'model is required');
    if (b.model !== MODEL && b.model !== `${MODEL}:latest`) return ollamaError(404, `model '${b.model}' not found, try pulling it first`);
    if (b.input === undefined || b.input === null) return ollamaError(400, 'input is required');
    const inputs = typeof b.input === 'string' ? [b.input] : b.input;
    if (!Array.isArray(inputs) || !inputs.every((s) => typeof s === 'string')) return ollamaError(400, 'invalid input type');
    if (b.dimensions !== undefined && (!Number.isInteger(b.dimensions) || b.dimensions < 1 || b.dimensions > dim)) {
      return ollamaError(400, `dimensions must be between 1 and ${dim}`);
    }
    const embeddings = inputs.map((s) => vectorFor(s, b.dimensions));
    const dur = Number(process.hrtime.bigint() - t0);
    return {
      status: 200,
      json: {
        model: b.model,
        embeddings,
        total_duration: dur + 1000,
        load_duration: 1000,
        prompt_eval_count: inputs.reduce((n, s) => n + countTokens(s), 0),
      },
    };
  }

  // Ollama's deprecated POST /api/embeddings: {"model", "prompt"} ->
  // {"embedding": [...]}.  As Ollama's EmbeddingsHandler, a request without
  // a prompt (one that sends "input", as /api/embed takes) only loads the
  // model and is answered {"embedding": []}.
  function ollamaLegacyEmbeddings(ctx) {
    if (ctx.jsonError !== null) return ollamaError(400, `invalid character in JSON body: ${ctx.jsonError}`);
    const b = ctx.json;
    if (!b || typeof b !== 'object') return ollamaError(400, 'missing request body');
    if (!b.model) return ollamaError(400, 'model is required');
    if (b.model !== MODEL && b.model !== `${MODEL}:latest`) return ollamaError(404, `model '${b.model}' not found, try pulling it first`);
    if (typeof b.prompt !== 'string' || b.prompt === '') return { status: 200, json: { embedding: [] } };
    return { status: 200, json: { embedding: vectorFor(b.prompt) } };
  }

  function handler(ctx) {
    if (ctx.method === 'POST' && ctx.path === '/v1/embeddings') return openaiEmbeddings(ctx);
    if (ctx.method === 'GET' && ctx.path === '/v1/models') {
      return { status: 200, json: { object: 'list', data: [{ id: MODEL, object: 'model', created: CREATED, owned_by: 'apex-test' }] } };
    }
    if (ctx.method === 'POST' && ctx.path === '/api/embed') return ollamaEmbed(ctx);
    if (ctx.method === 'POST' && ctx.path === '/api/embeddings') return ollamaLegacyEmbeddings(ctx);
    if (ctx.path.startsWith('/api/')) return { status: 404, text: '404 page not found', contentType: 'text/plain' };
    return openaiError(404, `Invalid URL (${ctx.method} ${ctx.path})`);
  }

  const isOllama = (ctx) => ctx.path.startsWith('/api/');
  const adapter = {
    errorResponse(status, ctx) {
      const msg = {
        400: 'Bad request (injected fault).',
        401: 'Incorrect API key provided.',
        403: 'You are not allowed to sample from this model (injected fault).',
        404: 'The model `test-embed` does not exist or you do not have access to it.',
        // OpenAI's wording (its Retry-After, when sent, is whole seconds)
        429: 'Rate limit reached for test-embed in organization org-apextest on requests per min (RPM): Limit 3000, Used 3000, Requested 1. Please try again in 20ms. Visit https://platform.openai.com/account/rate-limits to learn more.',
        500: 'The server had an error while processing your request. Sorry about that! (injected fault)',
        503: 'The engine is currently overloaded, please try again later. (injected fault)',
      }[status] ?? `Request failed with status ${status} (injected fault).`;
      if (isOllama(ctx)) return ollamaError(status, msg);
      const code = { 401: 'invalid_api_key', 404: 'model_not_found', 429: 'rate_limit_exceeded' }[status] ?? null;
      const type = status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error';
      const r = openaiError(status, msg, code, null, type);
      if (status === 429) r.headers = { 'Retry-After': '1' };
      return r;
    },
    malformed: (ctx) => (isOllama(ctx) ? '{"model": "test-embed", "embeddings": [[' : '{"object": "list", "data": ['),
    dupids(o) {
      if (Array.isArray(o.data)) o.data = o.data.flatMap((d) => [d, structuredClone(d)]);
      if (Array.isArray(o.embeddings)) o.embeddings = o.embeddings.flatMap((e) => [e, e.slice()]);
      return o;
    },
    nan(o) {
      // float vectors get a bare NaN token; base64 vectors carry a float32 NaN
      for (const d of Array.isArray(o.data) ? o.data : []) {
        if (Array.isArray(d.embedding)) d.embedding[0] = NAN;
        else if (typeof d.embedding === 'string') {
          // a small Buffer lives in Node's shared pool: copy its own bytes only
          const b = Buffer.from(d.embedding, 'base64');
          const f = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
          f[0] = NaN;
          d.embedding = Buffer.from(f.buffer).toString('base64');
        }
      }
      for (const e of Array.isArray(o.embeddings) ? o.embeddings : []) e[0] = NAN;
      return o;
    },
  };

  return createTestServer({ name: 'embedder', log, adapter, handler });
}
