// proxy.mjs - a forward HTTP proxy for the `proxy` source option, as strict
// as the proxies it stands for (Squid, tinyproxy) in what apex_router meets:
//
//   - a plain http request must come in absolute form ("POST http://h:p/x"),
//     as RFC 9112 3.2.2 asks of a client talking to a proxy; an origin-form
//     one ("POST /x") gets 400, as Squid answers it;
//   - https goes through "CONNECT host:port" (RFC 9110 9.3.6): 200 and then
//     a byte tunnel, never a look inside;
//   - with PROXY_AUTH set (user:password), a request without the right
//     Proxy-Authorization: Basic gets 407 with Proxy-Authenticate (RFC 9110
//     11.7.1), CONNECT included; the header is hop-by-hop and is not passed
//     on, nor are Proxy-Connection and Connection's hop-by-hop headers;
//   - it reaches only loopback hosts (127.0.0.1, ::1, localhost): a test
//     proxy must not be an open one; any other target gets 403.
//
// Every request or tunnel is logged as {server: "proxy", method, target
// (host:port), path (plain requests), auth ("basic" or "none", never its
// value), status, start, end}: the proof that a source's requests went
// through it.
import http from 'node:http';
import net from 'node:net';
import { nowMs } from './log.mjs';

const LOOPBACK = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);
const HOP_BY_HOP = ['proxy-authorization', 'proxy-connection', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade'];

/** host and port of "host:port" or "[v6]:port", or null */
function splitTarget(value) {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value || '');
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return null;
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

export function createProxyServer({ log, auth }) {
  const expected = auth ? 'Basic ' + Buffer.from(auth).toString('base64') : null;
  const tunnels = new Set();
  const authKind = (headers) => (headers['proxy-authorization'] ? 'basic' : 'none');
  const authorized = (headers) => expected === null || headers['proxy-authorization'] === expected;
  const entry = (req, target, path) => ({
    server: 'proxy', method: req.method, target, path, auth: authKind(req.headers), status: null, start: nowMs(), end: null,
  });

  const server = http.createServer((req, res) => {
    let url;
    try { url = new URL(req.url); } catch { url = null; }
    const e = entry(req, url ? `${url.hostname}:${url.port || 80}` : null, url ? url.pathname + url.search : req.url);
    const answer = (status, headers, text) => {
      e.status = status; e.end = nowMs(); log.add(e);
      res.writeHead(status, { 'Content-Type': 'text/plain', ...headers });
      res.end(text);
    };
    if (!url || url.protocol !== 'http:') return answer(400, {}, 'apex test proxy: a request to a proxy names an absolute http:// URL\n');
    if (!authorized(req.headers)) return answer(407, { 'Proxy-Authenticate': 'Basic realm="apex test proxy"' }, 'apex test proxy: proxy authentication required\n');
    if (!LOOPBACK.has(url.hostname)) return answer(403, {}, 'apex test proxy: only loopback targets\n');
    const headers = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    for (const h of (req.headers.connection || '').split(',')) delete headers[h.trim().toLowerCase()];
    headers.via = '1.1 apex-test-proxy';
    const up = http.request({ host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 80, method: req.method, path: url.pathname + url.search, headers }, (ur) => {
      e.status = ur.statusCode;
      const back = { ...ur.headers };
      for (const h of HOP_BY_HOP) delete back[h];
      res.writeHead(ur.statusCode, back);
      ur.pipe(res);
      ur.on('end', () => { e.end = nowMs(); log.add(e); });
    });
    up.on('error', () => { if (!res.headersSent) answer(502, {}, 'apex test proxy: upstream unreachable\n'); else res.destroy(); });
    req.pipe(up);
  });

  server.on('connect', (req, socket, head) => {
    const t = splitTarget(req.url);
    const e = entry(req, t ? `${t.host}:${t.port}` : req.url, null);
    const refuse = (status, reason, extra = '') => {
      e.status = status; e.end = nowMs(); log.add(e);
      socket.end(`HTTP/1.1 ${status} ${reason}\r\n${extra}Content-Length: 0\r\n\r\n`);
    };
    if (!t) return refuse(400, 'Bad Request');
    if (!authorized(req.headers)) return refuse(407, 'Proxy Authentication Required', 'Proxy-Authenticate: Basic realm="apex test proxy"\r\n');
    if (!LOOPBACK.has(t.host)) return refuse(403, 'Forbidden');
    const up = net.connect(t.port, t.host, () => {
      e.status = 200; e.end = nowMs(); log.add(e);
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    tunnels.add(socket);
    socket.on('close', () => { tunnels.delete(socket); up.destroy(); });
    up.on('error', () => { if (e.status === null) refuse(502, 'Bad Gateway'); else socket.destroy(); });
    socket.on('error', () => up.destroy());
  });
  // shutdown: tunnels are no longer the http server's connections
  server.closeTunnels = () => { for (const s of tunnels) s.destroy(); };
  return server;
}
