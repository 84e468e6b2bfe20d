// The test forward proxy (test/servers/proxy.mjs) against what a client of a
// real one (Squid, tinyproxy) meets: absolute-form requests forwarded with
// the hop-by-hop headers dropped and a Via added, CONNECT tunnels, 407 with
// Proxy-Authenticate without the right Basic credentials, 400 for an
// origin-form request, 403 for a target that is not loopback; every request
// logged with the kind of its credentials, never their value.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { startServers } from './harness.mjs';

const AUTH = 'pu:proxy-secret';
const BASIC = 'Basic ' + Buffer.from(AUTH).toString('base64');
let srv;
before(async () => { srv = await startServers({ PROXY_AUTH: AUTH }); });
after(async () => { await srv.stop(); });

const proxyAddr = () => new URL(srv.proxy);

/** A request to the proxy: path in absolute or origin form; resolves {status, headers, body} */
function viaProxy(path, { method = 'GET', headers = {}, body } = {}) {
  const p = proxyAddr();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: p.hostname, port: p.port, method, path, headers, agent: false }, (res) => {
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** CONNECT host:port; resolves {status, headers, socket} */
function connect(target, headers = {}) {
  const p = proxyAddr();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: p.hostname, port: p.port, method: 'CONNECT', path: target, headers, agent: false });
    req.on('connect', (res, socket) => resolve({ status: res.statusCode, headers: res.headers, socket }));
    req.on('error', reject);
    req.end();
  });
}

const proxyLog = () => readFileSync(srv.logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.server === 'proxy');

describe('forward proxy', () => {
  test('absolute form with credentials: forwarded, Via added, credentials not passed on', async () => {
    const q = new URL(srv.qdrant);
    const r = await viaProxy(`http://127.0.0.1:${q.port}/healthz`, { headers: { 'Proxy-Authorization': BASIC, 'X-Tenant': 'acme' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'healthz check passed');
    const entry = readFileSync(srv.logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
      .filter((e) => e.server === 'qdrant' && e.path === '/healthz').at(-1);
    assert.equal(entry.via, '1.1 apex-test-proxy');
    assert.equal(entry.auth, 'none'); // Proxy-Authorization is hop-by-hop
    assert.deepEqual(entry.x_headers, { 'x-tenant': 'acme' });
    const p = proxyLog().at(-1);
    assert.deepEqual([p.method, p.target, p.path, p.auth, p.status], ['GET', `127.0.0.1:${q.port}`, '/healthz', 'basic', 200]);
  });

  test('no or wrong credentials: 407 with Proxy-Authenticate, for requests and CONNECT', async () => {
    const q = new URL(srv.qdrant);
    for (const headers of [{}, { 'Proxy-Authorization': 'Basic ' + Buffer.from('pu:wrong').toString('base64') }]) {
      const r = await viaProxy(`http://127.0.0.1:${q.port}/healthz`, { headers });
      assert.equal(r.status, 407);
      assert.match(r.headers['proxy-authenticate'], /^Basic realm=/);
      const c = await connect(`127.0.0.1:${q.port}`, headers);
      assert.equal(c.status, 407);
      assert.match(c.headers['proxy-authenticate'], /^Basic realm=/);
      c.socket.destroy();
    }
    assert.ok(!readFileSync(srv.logFile, 'utf8').includes('proxy-secret'), 'a credential in the log');
  });

  test('origin form is 400; a target that is not loopback is 403', async () => {
    assert.equal((await viaProxy('/healthz', { headers: { 'Proxy-Authorization': BASIC } })).status, 400);
    assert.equal((await viaProxy('http://192.0.2.1:80/', { headers: { 'Proxy-Authorization': BASIC } })).status, 403);
    const c = await connect('192.0.2.1:443', { 'Proxy-Authorization': BASIC });
    assert.equal(c.status, 403);
    c.socket.destroy();
    const bad = await connect('no-port', { 'Proxy-Authorization': BASIC });
    assert.equal(bad.status, 400);
    bad.socket.destroy();
  });

  test('CONNECT: 200, then a byte tunnel to the target', async () => {
    const q = new URL(srv.qdrant);
    const c = await connect(`127.0.0.1:${q.port}`, { 'Proxy-Authorization': BASIC });
    assert.equal(c.status, 200);
    const reply = await new Promise((resolve) => {
      let data = '';
      c.socket.on('data', (d) => { data += d; if (data.includes('healthz check passed')) resolve(data); });
      c.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${q.port}\r\nConnection: close\r\n\r\n`);
    });
    assert.match(reply, /^HTTP\/1\.1 200/);
    c.socket.destroy();
    const p = proxyLog().at(-1);
    assert.deepEqual([p.method, p.target, p.auth, p.status], ['CONNECT', `127.0.0.1:${q.port}`, 'basic', 200]);
  });
});
