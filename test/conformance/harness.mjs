// harness.mjs - starts test/servers/main.mjs on random ports for one test file.
// Not a test itself: it only exports helpers.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const MAIN = resolve(HERE, '..', 'servers', 'main.mjs');

/**
 * Spawns the servers with ports 0 (the OS picks free ones, read back from
 * stderr) and `env` on top of the inherited environment. Resolves once the
 * ready line is on stdout and the six addresses (the proxy's too) are known.
 */
export async function startServers(env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'apex-conf-'));
  const logFile = join(dir, 'requests.jsonl');
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, NEO4J_PORT: '0', QDRANT_PORT: '0', EMBED_PORT: '0', GRAPHITI_PORT: '0', RERANK_PORT: '0', PROXY_PORT: '0', NEO4J_TLS_PORT: '0', QDRANT_TLS_PORT: '0', APEX_TEST_LOG: logFile, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const urls = {};
  await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`servers not ready in 10 s\n${stdout}\n${stderr}`)), 10000);
    const check = () => {
      for (const m of stderr.matchAll(/^(neo4j|qdrant|embedder|graphiti|reranker|proxy) listening on (http:\/\/\S+)$/gm)) urls[m[1]] = m[2];
      if (stdout.split('\n').includes('apex test servers ready') && Object.keys(urls).length === 6) {
        clearTimeout(timer);
        resolveReady();
      }
    };
    child.stdout.on('data', (d) => { stdout += d; check(); });
    child.stderr.on('data', (d) => { stderr += d; check(); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`servers exited (${code})\n${stderr}`)); });
  });
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return {
    ...urls,
    logFile,
    child,
    stdout: () => stdout,
    async stop() {
      child.kill('SIGTERM');
      const res = await exited;
      rmSync(dir, { recursive: true, force: true });
      return res;
    },
  };
}

/** Brute-force cosine similarity of two plain arrays. */
export function cosine(a, b) {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return na === 0 || nb === 0 ? 0 : d / Math.sqrt(na * nb);
}

export const basic = (user, pass) => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
