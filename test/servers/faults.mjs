// faults.mjs - fault and latency injection shared by the three test servers.
//
// A fault spec is a comma-separated list of items, e.g. "delay=300,status=500":
//   delay=MS      wait MS milliseconds before answering
//   status=CODE   answer CODE with the server's own documented error body
//   retry_after=VALUE  (with status) the answer carries `Retry-After: VALUE`:
//                 delay-seconds such as 2, or anything else sent as it is
//                 (`soon`: not valid); it replaces the server's own (Qdrant and
//                 the OpenAI-style embedder send `Retry-After: 1` with a 429)
//   retry_date=N  (with status) `Retry-After: <HTTP-date N seconds ahead>`, in
//                 the IMF-fixdate form RFC 9110 says senders use
//   once          (with status) only the first request with this spec on its
//                 route gets the status; later ones are answered normally, as
//                 a rate limiter does once its window has passed.  Per server;
//                 DELETE /__control forgets which were answered.  Without it
//                 the status comes every time.
//   hang          read the request, never answer, keep the socket open
//   reset         read the request, then reset the connection (RST)
//   reset_mid     send the headers and half the body, then reset (RST)
//   drip=MS       send the real body one byte every MS milliseconds
//   truncate      declare the full Content-Length, send half, close (FIN)
//   malformed     invalid JSON such as `{"result": [` with a success status
//   wrongshape    valid JSON of the wrong shape: {"unexpected":true}
//   deep          valid JSON nested 100,000 deep: {"unexpected": [[[...]]]}
//                 (a recursive parser that does not check first runs out of
//                 stack)
//   bignum        valid JSON with a number beyond PostgreSQL's numeric:
//                 {"unexpected": 1e1001}
//   ctype=VALUE   override the Content-Type header
//   neo4jerror    (Neo4j only) success status with a DatabaseUnavailable error
//   huge=BYTES    real response padded to about BYTES with a long string field
//   nonutf8       real response with an invalid UTF-8 sequence inside a string
//   nan           scores (embedding values on the embedder) become a bare NaN token
//   dupids        every result row/point/embedding is sent twice
//   echo=FORM     answer 400 with an error that echoes the request's credential
//                 (X-Gateway-Key, Basic password, Bearer token or api-key), as a careless server
//                 or proxy might: FORM is header (the header as sent), base64 (the
//                 credential base64-encoded at each of the three alignments, and
//                 URL-safe), percent (every byte %-encoded, lower and upper hex),
//                 json (every character as a \uXXXX escape) in the server's own
//                 error body; or cut: a plain-text body with the header at byte
//                 190, so that a 200-byte excerpt ends inside it
//   chars=FORM    real response with characters appended to the same string
//                 nonutf8 picks: FORM is latin1 ("café crème", which LATIN1
//                 holds), cjk ("中文") or emoji ("😀", beyond the BMP), as
//                 UTF-8; with an "esc" suffix (latin1esc, cjkesc, emojiesc)
//                 as JSON \uXXXX escapes (the emoji as a surrogate pair).
//                 For databases in other encodings (issue 11, item 3).
//   gzip          the body gzip-compressed (Content-Encoding: gzip)
//   deflate       the body zlib-compressed (Content-Encoding: deflate, RFC 9110)
//   badgzip       Content-Encoding: gzip with a corrupt body: a valid gzip header,
//                 then a deflate block of the reserved type ("invalid block type")
//                 The three compress only when the request's Accept-Encoding
//                 allows the coding, as real servers do (else the body goes as
//                 it is); with huge=BYTES they make a compression bomb: a few
//                 kB on the wire, BYTES once decoded.
//
// A spec reaches a request either through a URL prefix `/__fault/<spec>/...`
// (stripped before routing, so a client only changes its base URL) or through
// per-route defaults set with `POST /__control`.

import zlib from 'node:zlib';
import { jsonPieces } from './memo.mjs';

const FLAGS = new Set(['hang', 'reset', 'reset_mid', 'truncate', 'malformed', 'wrongshape',
  'deep', 'bignum', 'neo4jerror', 'nonutf8', 'nan', 'dupids', 'gzip', 'deflate', 'badgzip', 'once']);
const NUMERIC = new Set(['delay', 'status', 'drip', 'huge', 'retry_date']);
const ECHO_FORMS = new Set(['header', 'base64', 'percent', 'json', 'cut']);
const CHARS = { latin1: 'café crème', cjk: '中文', emoji: '😀' };

/** Parses a spec into {delay, status, drip, huge, ctype, hang, ...}; throws on unknown items. */
export function parseSpec(spec) {
  const f = {};
  for (const raw of String(spec || '').split(',')) {
    const item = raw.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const val = eq < 0 ? null : item.slice(eq + 1);
    if (FLAGS.has(key) && val === null) {
      f[key] = true;
    } else if (NUMERIC.has(key) && val !== null && /^\d+$/.test(val)) {
      f[key] = Number(val);
    } else if ((key === 'ctype' || key === 'retry_after') && val) {
      f[key] = val;
    } else if (key === 'echo' && ECHO_FORMS.has(val)) {
      f.echo = val;
    } else if (key === 'chars' && val && CHARS[val.replace(/esc$/, '')] !== undefined) {
      f.chars = val;
    } else {
      throw new Error(`unknown or malformed fault item "${item}"`);
    }
  }
  if ([f.gzip, f.deflate, f.badgzip].filter(Boolean).length > 1) {
    throw new Error('gzip, deflate and badgzip exclude each other');
  }
  if (f.status !== undefined && (f.status < 100 || f.status > 599)) {
    throw new Error(`status=${f.status} is not an HTTP status`);
  }
  if ((f.retry_after !== undefined || f.retry_date !== undefined || f.once) && f.status === undefined) {
    throw new Error('retry_after, retry_date and once go with status=CODE');
  }
  if (f.retry_after !== undefined && f.retry_date !== undefined) {
    throw new Error('retry_after and retry_date exclude each other');
  }
  return f;
}

/** The Retry-After header the retry_after or retry_date fault asks for, or {}. */
export function retryAfterHeader(faults) {
  if (faults.retry_after !== undefined) return { 'Retry-After': faults.retry_after };
  if (faults.retry_date !== undefined) {
    // toUTCString() is the IMF-fixdate form: "Mon, 30 Nov 2026 18:30:00 GMT"
    return { 'Retry-After': new Date(Date.now() + faults.retry_date * 1000).toUTCString() };
  }
  return {};
}

/** Splits "/__fault/<spec>/rest" into {spec, path}; spec is null without the prefix. */
export function stripFaultPrefix(pathname) {
  const m = /^\/__fault\/([^/]*)(\/.*)?$/.exec(pathname);
  if (!m) return { spec: null, path: pathname };
  return { spec: decodeURIComponent(m[1]), path: m[2] || '/' };
}

/**
 * Per-server defaults set through /__control: exact stripped path, or "*" for
 * every route; and which `once` faults have been answered.
 */
export class FaultControl {
  constructor() { this.routes = new Map(); this.answered = new Set(); }
  set(route, spec) {
    parseSpec(spec); // validate before storing
    if (spec) this.routes.set(route, spec); else this.routes.delete(route);
  }
  clear() { this.routes.clear(); this.answered.clear(); }
  /** Whether a `once` fault with spec on path is still to be answered (and it is now). */
  firstTime(path, spec) {
    const key = `${path}\n${spec}`;
    if (this.answered.has(key)) return false;
    this.answered.add(key);
    return true;
  }
  specFor(path) { return this.routes.get(path) ?? this.routes.get('*') ?? ''; }
  toJSON() { return Object.fromEntries(this.routes); }
}

/** Whether an Accept-Encoding header value allows coding (a q=0 entry refuses it). */
export function accepts(acceptEncoding, coding) {
  for (const item of String(acceptEncoding || '').split(',')) {
    const [name, ...params] = item.trim().toLowerCase().split(';').map((x) => x.trim());
    if (name !== coding && name !== '*') continue;
    const q = params.find((p) => p.startsWith('q='));
    return !q || Number(q.slice(2)) > 0;
  }
  return false;
}

/**
 * The body and extra headers after the compression faults (gzip, deflate,
 * badgzip): unchanged unless the request's Accept-Encoding allows the coding.
 */
export function encodeBody(body, faults, requestHeaders) {
  const coding = faults.deflate ? 'deflate' : (faults.gzip || faults.badgzip) ? 'gzip' : null;
  if (!coding) return { body, headers: {} };
  const headers = { Vary: 'Accept-Encoding' };
  if (!accepts(requestHeaders['accept-encoding'], coding)) return { body, headers };
  let out = coding === 'deflate' ? zlib.deflateSync(body) : zlib.gzipSync(body);
  if (faults.badgzip) {
    out = Buffer.from(out);
    out[10] = 0xff; // the first deflate block: final, of the reserved type 3
  }
  return { body: out, headers: { ...headers, 'Content-Encoding': coding } };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The credential a request carries: {header, secret}, or null. */
function credentialOf(headers) {
  // a gateway's key, sent by a user mapping's `headers` option, before the store's own
  if (headers['x-gateway-key'] !== undefined) return { header: headers['x-gateway-key'], secret: headers['x-gateway-key'] };
  const a = headers.authorization;
  const basic = a && /^basic\s+(\S+)\s*$/i.exec(a);
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    return { header: a, secret: decoded.slice(decoded.indexOf(':') + 1) };
  }
  const bearer = a && /^bearer\s+(\S+)\s*$/i.exec(a);
  if (bearer) return { header: a, secret: bearer[1] };
  if (headers['api-key'] !== undefined) return { header: headers['api-key'], secret: headers['api-key'] };
  return null;
}

const hex = (b, upper) => {
  const h = b.toString(16).padStart(2, '0');
  return '%' + (upper ? h.toUpperCase() : h);
};

/**
 * The response of an echo=FORM fault: {status, text} for `cut` (plain text),
 * else {status, message} for the server's own error body.
 */
export function echoResponse(form, headers) {
  const cred = credentialOf(headers);
  if (!cred) return { status: 400, message: 'Invalid credentials: none sent' };
  const bytes = Buffer.from(cred.secret, 'utf8');
  const b64 = (prefix) => Buffer.concat([Buffer.from(prefix), bytes]).toString('base64');
  const echoed = {
    header: cred.header,
    base64: [b64(''), b64('k'), b64('ke'), bytes.toString('base64url')].join(' '),
    percent: [...bytes].map((b) => hex(b, false)).join('') + ' ' + [...bytes].map((b) => hex(b, true)).join(''),
    json: [...cred.secret].map((c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')).join(''),
  };
  if (form === 'cut') return { status: 400, text: `${'x'.repeat(190)}${cred.header} (credentials rejected)` };
  return { status: 400, message: `Invalid credentials: ${echoed[form]}` };
}

/** Puts message into the first string under a message/error/detail key of an error body. */
export function withMessage(body, message) {
  let done = false;
  const walk = (node) => {
    if (done || !node || typeof node !== 'object') return;
    for (const k of Object.keys(node)) {
      if (done) return;
      if (['message', 'error', 'detail'].includes(k) && typeof node[k] === 'string') {
        node[k] = message;
        done = true;
      } else walk(node[k]);
    }
  };
  const copy = structuredClone(body);
  walk(copy);
  return copy;
}

// Sentinels put into the object before serialisation, then swapped for bytes
// that JSON.stringify could never produce.
const NAN_SENTINEL = '@@APEX_NAN@@';
const BAD_UTF8_SENTINEL = '@@APEX_BAD_UTF8@@';
const CHARS_SENTINEL = '@@APEX_CHARS@@';
export const NAN = NAN_SENTINEL;

/**
 * Serialises a JSON response body, applying the body faults that need the
 * structure: dupids and nan through the server's adapter, then nonutf8, chars
 * and huge.
 */
export function serializeJson(obj, faults, adapter, ctx) {
  // Only these faults change the object: a copy for them, so that what a
  // handler returns (its memoised results among it) is never modified
  const edits = (faults.dupids && adapter.dupids) || (faults.nan && adapter.nan) || faults.nonutf8 || faults.chars;
  let o = edits ? structuredClone(obj) : obj;
  if (faults.dupids && adapter.dupids) o = adapter.dupids(o, ctx) ?? o;
  if (faults.nan && adapter.nan) o = adapter.nan(o, ctx) ?? o;
  if (faults.nonutf8) {
    markString(o, (s) => s.slice(0, s.length >> 1) + BAD_UTF8_SENTINEL + s.slice(s.length >> 1),
      `bad ${BAD_UTF8_SENTINEL} bytes`);
  }
  if (faults.chars) markString(o, (s) => `${s} ${CHARS_SENTINEL}`, CHARS_SENTINEL);
  if (!edits && !faults.huge) return fastSerialize(o);
  let text = JSON.stringify(o);
  if (faults.chars) text = text.replaceAll(CHARS_SENTINEL, charsText(faults.chars));
  if (faults.huge) {
    const pad = faults.huge - Buffer.byteLength(text) - 16;
    if (pad > 0 && text.endsWith('}')) text = text.slice(0, -1) + `,"padding":"${'x'.repeat(pad)}"}`;
  }
  text = text.replaceAll(`"${NAN_SENTINEL}"`, 'NaN');
  let buf = Buffer.from(text, 'utf8');
  if (faults.nonutf8) buf = replaceBytes(buf, Buffer.from(BAD_UTF8_SENTINEL), Buffer.from([0xc3, 0x28]));
  return buf;
}

// The UTF-8 bytes of the memoised parts of answers (memo.mjs share()), as
// serializeJson makes them: written once, reused by every answer that holds them.
const partBytes = new WeakMap();

/**
 * serializeJson's bytes for an answer no fault edits or pads, from its
 * pieces (memo.mjs jsonPieces): the envelope written anew, each shared part's
 * bytes kept.  The NaN sentinel is replaced piece by piece: it is a whole
 * JSON string, and no piece boundary can fall inside one (a part begins with
 * [ or { and ends with ] or }).
 */
function fastSerialize(o) {
  const pieces = jsonPieces(o);
  if (pieces === undefined) return Buffer.from(JSON.stringify(o).replaceAll(`"${NAN_SENTINEL}"`, 'NaN'), 'utf8'); // throws, as before
  const nan = (text) => text.replaceAll(`"${NAN_SENTINEL}"`, 'NaN');
  const bufs = pieces.map((p) => {
    if (typeof p === 'string') return Buffer.from(nan(p), 'utf8');
    let b = partBytes.get(p);
    if (b === undefined) partBytes.set(p, (b = Buffer.from(nan(JSON.stringify(p)), 'utf8')));
    return b;
  });
  return bufs.length === 1 ? bufs[0] : Buffer.concat(bufs);
}

/** The text of a chars=FORM fault as it goes inside a JSON string. */
function charsText(form) {
  const text = CHARS[form.replace(/esc$/, '')];
  if (!form.endsWith('esc')) return text;
  // charCodeAt walks UTF-16 code units: a surrogate pair beyond the BMP
  return [...Array(text.length).keys()].map((i) => text.charCodeAt(i))
    .map((c) => (c < 0x80 ? String.fromCharCode(c) : '\\u' + c.toString(16).padStart(4, '0'))).join('');
}

// Rewrites (with edit) the most "data-like" string of the body: first a
// string under payload/row/values/properties, else any nested string, else
// a new top-level "note" field holding note.
function markString(root, edit, note) {
  const preferred = new Set(['payload', 'row', 'values', 'properties', 'data', 'embeddings']);
  let best = null;
  let fallback = null;
  const walk = (node, depth, inData) => {
    if (best) return;
    if (Array.isArray(node) || (node && typeof node === 'object')) {
      for (const [k, v] of Object.entries(node)) {
        if (best) return;
        const d = inData || preferred.has(k);
        if (typeof v === 'string') {
          if (d) { best = [node, k]; return; }
          if (depth >= 1 && !fallback) fallback = [node, k];
        } else {
          walk(v, depth + 1, d);
        }
      }
    }
  };
  walk(root, 0, false);
  const target = best || fallback;
  if (target) {
    const [node, k] = target;
    node[k] = edit(node[k]);
  } else if (root && typeof root === 'object' && !Array.isArray(root)) {
    root.note = note;
  }
}

function replaceBytes(buf, from, to) {
  const parts = [];
  let i = 0;
  for (let j = buf.indexOf(from, i); j >= 0; j = buf.indexOf(from, i)) {
    parts.push(buf.subarray(i, j), to);
    i = j + from.length;
  }
  parts.push(buf.subarray(i));
  return Buffer.concat(parts);
}

/**
 * Writes `body` (Buffer) with the transport faults: reset_mid, truncate, drip,
 * or normally. `res` is a node:http ServerResponse. `done()` is called just
 * before the last bytes (or the reset) leave, so that a client which has just
 * seen the response already finds it in the request log.
 */
export async function writeWithFaults(res, status, headers, body, faults, done = () => {}) {
  res.writeHead(status, { ...headers, 'Content-Length': body.length });
  const half = body.subarray(0, Math.floor(body.length / 2));
  if (faults.reset_mid) {
    res.write(half, () => { done(); res.socket?.resetAndDestroy(); });
    return;
  }
  if (faults.truncate) {
    res.write(half, () => { done(); res.socket?.end(); }); // FIN after half the declared bytes
    return;
  }
  if (faults.drip && body.length > 0) {
    for (let i = 0; i < body.length - 1; i++) {
      if (res.destroyed) return;
      res.write(body.subarray(i, i + 1));
      await sleep(faults.drip);
    }
    if (res.destroyed) return;
    done();
    res.end(body.subarray(body.length - 1));
    return;
  }
  done();
  res.end(body);
}
