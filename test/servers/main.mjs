#!/usr/bin/env node
// main.mjs - starts the Neo4j, Qdrant, embedder, Graphiti and reranker test
// servers in one process, and a forward proxy (proxy.mjs) in front of them.
//
// Prints exactly `apex test servers ready` on stdout once all listen;
// the bound addresses go to stderr (so port 0 can be used and read back).
// Environment (defaults in brackets):
//   NEO4J_PORT  QDRANT_PORT  EMBED_PORT  GRAPHITI_PORT  RERANK_PORT  PROXY_PORT  required: test/lib.sh
//              assigns every port (0: any free port)
//   BIND [127.0.0.1]
//   NEO4J_AUTH [neo4j:testpassword]   user:password for Basic (Bearer <password> also accepted)
//   QDRANT_API_KEY [unset: no auth]   EMBED_API_KEY [unset: no auth]   EMBED_DIM [64]
//   GRAPHITI_API_KEY [unset: no auth]   RERANK_API_KEY [unset: no auth]
//   PROXY_AUTH [unset: no auth]   user:password the proxy asks for (Basic)
//   APEX_FIXTURES [test/fixtures/corpus.json, relative to the repository root]
//   APEX_TEST_LOG [unset: no file log]   QDRANT_VERSION [1.13.0]   NEO4J_VERSION [5.26.0]
//   TLS_CERT, TLS_KEY [unset]  PEM files: Neo4j and Qdrant are then also served
//   NEO4J_TLS_PORT             over https with that certificate, on these ports
//   QDRANT_TLS_PORT            (required with them)
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { loadCorpus, corpusPath } from './corpus.mjs';
import { RequestLog } from './log.mjs';
import { listen } from './http.mjs';
import { createNeo4jServer } from './neo4j.mjs';
import { createQdrantServer } from './qdrant.mjs';
import { createEmbedderServer } from './embedder.mjs';
import { createGraphitiServer } from './graphiti.mjs';
import { createRerankerServer } from './reranker.mjs';
import { createProxyServer } from './proxy.mjs';

const env = process.env;
// every port comes from test/lib.sh (or the conformance harness): no defaults here
const port = (name) => {
  const v = env[name];
  if (v === undefined || v === '' || !Number.isInteger(Number(v))) throw new Error(`${name} must be set to a port number (test/lib.sh assigns them)`);
  return Number(v);
};
const bind = env.BIND || '127.0.0.1';
const dim = Number(env.EMBED_DIM || 64);
if (!Number.isInteger(dim) || dim < 1) throw new Error(`EMBED_DIM must be a positive integer, got ${env.EMBED_DIM}`);
const auth = env.NEO4J_AUTH ?? 'neo4j:testpassword';
const colon = auth.indexOf(':');
if (colon < 0) throw new Error('NEO4J_AUTH must be user:password');

const corpus = loadCorpus(corpusPath(env));
const log = new RequestLog(env.APEX_TEST_LOG);

const servers = [
  ['neo4j', createNeo4jServer({ corpus, log, user: auth.slice(0, colon), password: auth.slice(colon + 1), version: env.NEO4J_VERSION || '5.26.0' }), port('NEO4J_PORT')],
  ['qdrant', createQdrantServer({ corpus, log, dim, apiKey: env.QDRANT_API_KEY || null, version: env.QDRANT_VERSION || '1.13.0' }), port('QDRANT_PORT')],
  ['embedder', createEmbedderServer({ log, dim, apiKey: env.EMBED_API_KEY || null }), port('EMBED_PORT')],
  ['graphiti', createGraphitiServer({ corpus, log, apiKey: env.GRAPHITI_API_KEY || null }), port('GRAPHITI_PORT')],
  ['reranker', createRerankerServer({ log, apiKey: env.RERANK_API_KEY || null }), port('RERANK_PORT')],
  ['proxy', createProxyServer({ log, auth: env.PROXY_AUTH || null }), port('PROXY_PORT')],
];

if (env.TLS_CERT && env.TLS_KEY) {
  // the same handlers as the http servers, behind TLS
  const tlsOptions = { cert: readFileSync(env.TLS_CERT), key: readFileSync(env.TLS_KEY) };
  for (const [name, portName] of [['neo4j', 'NEO4J_TLS_PORT'], ['qdrant', 'QDRANT_TLS_PORT']]) {
    const [handler] = servers.find(([n]) => n === name)[1].listeners('request');
    servers.push([`${name}-https`, https.createServer(tlsOptions, handler), port(portName)]);
  }
}

for (const [name, server, p] of servers) {
  const actual = await listen(server, p, bind);
  process.stderr.write(`${name} listening on ${server instanceof https.Server ? 'https' : 'http'}://${bind}:${actual}\n`);
}
process.stdout.write('apex test servers ready\n');

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`${signal}: stopping test servers\n`);
  let open = servers.length;
  for (const [, server] of servers) {
    server.close(() => { if (--open === 0) process.exit(0); });
    server.closeAllConnections(); // includes hung (`hang` fault) and keep-alive sockets
    server.closeTunnels?.(); // the proxy's CONNECT tunnels
  }
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
