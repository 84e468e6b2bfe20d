// http.mjs - the request pipeline common to the three test servers.
//
// For every request: note the arrival time, strip an optional /__fault/<spec>/
// prefix, serve the internal /__control, /__log and /__drop_connections endpoints, read the whole
// body, pick the fault spec (URL prefix > per-route default > "*" default),
// run the server's handler, apply the faults and log the request just before
// the last bytes of the response leave, or when the socket goes away.
//
// A handler receives ctx = {method, path, query, headers, body (string),
// json (parsed body or undefined), jsonError (parse error message or null)}
// and returns {status, json} or {status, text, contentType} plus optional
// extra `headers`. An adapter supplies the server-specific fault pieces:
// errorResponse(status, ctx), malformed(ctx), and optionally dupids(obj, ctx),
// nan(obj, ctx), neo4jerror(ctx, realResponse).
import http from 'node:http';
import {
  FaultControl, echoResponse, encodeBody, parseSpec, retryAfterHeader, serializeJson, sleep, stripFaultPrefix, withMessage,
  writeWithFaults,
} from './faults.mjs';
import { nowMs } from './log.mjs';

/** The kind of credentials a request carries, never their value. */
function authKind(headers) {
  const a = headers.authorization;
  if (a) {
    if (/^basic\s/i.test(a)) return 'basic';
    if (/^bearer\s/i.test(a)) return 'bearer';
    return 'other';
  }
  return headers['api-key'] !== undefined ? 'api-key' : 'none';
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res, status, obj) {
  const body = Buffer.from(JSON.stringify(obj));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
}

/** Handles /__control and /__log; returns true when the request was one of them. */
async function internalEndpoint(req, res, path, query, name, control, log) {
  if (path === '/__control') {
    if (req.method === 'GET') return sendJson(res, 200, control.toJSON()), true;
    if (req.method === 'DELETE') { await readBody(req); control.clear(); return sendJson(res, 200, { ok: true }), true; }
    if (req.method === 'POST') {
      try {
        const b = JSON.parse((await readBody(req)).toString('utf8') || '{}');
        control.set(typeof b.route === 'string' ? b.route : '*', b.fault ?? '');
        return sendJson(res, 200, { ok: true, faults: control.toJSON() }), true;
      } catch (e) {
        return sendJson(res, 400, { error: String(e.message) }), true;
      }
    }
    return sendJson(res, 405, { error: 'use GET, POST or DELETE' }), true;
  }
  if (path === '/__log') {
    const who = query.get('all') ? null : name;
    if (req.method === 'GET') return sendJson(res, 200, log.list(who)), true;
    if (req.method === 'DELETE') { await readBody(req); log.clear(who); return sendJson(res, 200, { ok: true }), true; }
    return sendJson(res, 405, { error: 'use GET or DELETE' }), true;
  }
  return false;
}

export function createTestServer({ name, log, adapter, handler }) {
  const control = new FaultControl();
  const server = http.createServer(async (req, res) => {
    const start = nowMs();
    const remotePort = req.socket.remotePort;
    const url = new URL(req.url, 'http://localhost');
    const { spec: prefixSpec, path } = stripFaultPrefix(url.pathname);
    if (path === '/__drop_connections' && req.method === 'POST') {
      // what clients see of a server restart: every kept connection closes
      res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end('{"ok":true}', () => setImmediate(() => server.closeAllConnections()));
      return;
    }
    try {
      if (await internalEndpoint(req, res, path, url.searchParams, name, control, log)) return;
    } catch (e) {
      if (!res.headersSent) sendJson(res, 500, { error: String(e.message) });
      return;
    }

    const raw = await readBody(req).catch(() => Buffer.alloc(0));
    const body = raw.toString('utf8');
    let json;
    let jsonError = null;
    try { json = body.length ? JSON.parse(body) : undefined; } catch (e) { jsonError = e.message; }

    const spec = prefixSpec ?? control.specFor(path);
    const entry = {
      server: name, method: req.method, path, fault: spec || '', start, end: null, status: null,
      encoding: null, remote_port: remotePort, auth: authKind(req.headers),
      user_agent: req.headers['user-agent'] ?? null,
      // extra headers (the `headers` option: X-... in the tests), and the
      // proxy's Via: proof of what a request carried and how it came
      x_headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-'))),
      via: req.headers.via ?? null,
      // Neo4j's transaction access mode on tx/commit (the Query API's is in the body)
      access_mode: req.headers['access-mode'] ?? null,
      body: json !== undefined ? json : (body.length ? body : null),
    };
    // Logged once: just before the response's last bytes leave (see
    // writeWithFaults), or when the socket closes without a full answer.
    let logged = false;
    const finish = () => {
      if (logged) return;
      logged = true;
      entry.end = nowMs();
      entry.status = res.headersSent ? res.statusCode : null;
      log.add(entry);
    };
    res.on('close', finish);

    let faults;
    try {
      faults = parseSpec(spec);
    } catch (e) {
      const msg = Buffer.from(`apex test server: ${e.message}\n`);
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': msg.length });
      finish();
      return res.end(msg);
    }

    // a `once` status fault is over after its first answer: the rest go through
    if (faults.once && !control.firstTime(path, spec)) {
      delete faults.status;
      delete faults.retry_after;
      delete faults.retry_date;
    }
    if (faults.hang) return; // logged when the client (or shutdown) closes the socket
    if (faults.reset) { finish(); return req.socket.resetAndDestroy(); }
    if (faults.delay) await sleep(faults.delay);
    if (res.destroyed) return;

    const ctx = { method: req.method, path, query: url.searchParams, headers: req.headers, body, json, jsonError };
    let out;
    try {
      if (faults.echo) {
        const echo = echoResponse(faults.echo, ctx.headers);
        const own = adapter.errorResponse(echo.status, ctx);
        out = echo.text !== undefined || own.json === undefined
          ? { status: echo.status, text: echo.text ?? echo.message, contentType: 'text/plain; charset=utf-8' }
          : { ...own, json: withMessage(own.json, echo.message) };
      } else {
        out = faults.status ? adapter.errorResponse(faults.status, ctx) : await handler(ctx);
        if (faults.status) out = { ...out, headers: { ...(out.headers || {}), ...retryAfterHeader(faults) } };
      }
      if (!faults.status && !faults.echo) {
        const okStatus = out.status >= 200 && out.status < 300 ? out.status : 200;
        if (faults.neo4jerror && adapter.neo4jerror) out = adapter.neo4jerror(ctx, out);
        else if (faults.malformed) out = { status: okStatus, text: adapter.malformed(ctx), contentType: 'application/json' };
        else if (faults.wrongshape) out = { status: okStatus, json: { unexpected: true } };
        else if (faults.deep) {
          out = { status: okStatus, text: `{"unexpected": ${'['.repeat(100000)}${']'.repeat(100000)}}`, contentType: 'application/json' };
        } else if (faults.bignum) out = { status: okStatus, text: '{"unexpected": 1e1001}', contentType: 'application/json' };
      }
    } catch (e) {
      out = { status: 500, text: `apex test server bug: ${e.stack}`, contentType: 'text/plain; charset=utf-8' };
    }

    const payload = out.json !== undefined
      ? serializeJson(out.json, faults, adapter, ctx)
      : Buffer.from(out.text ?? '', 'utf8');
    const contentType = faults.ctype ?? out.contentType ?? 'application/json';
    const encoded = encodeBody(payload, faults, req.headers);
    entry.encoding = encoded.headers['Content-Encoding'] ?? null;
    await writeWithFaults(res, out.status, { 'Content-Type': contentType, ...(out.headers || {}), ...encoded.headers },
      encoded.body, faults, finish);
  });
  server.control = control;
  return server;
}

/** Listens and resolves with the bound port (useful when port is 0). */
export function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(server.address().port); });
  });
}
