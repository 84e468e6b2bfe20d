// corpus.mjs - loads the shared fixture corpus (test/fixtures/corpus.json).
//
// APEX_FIXTURES may point elsewhere; a relative value is resolved against the
// repository root (two levels above this file) so that the servers behave the
// same whatever the current directory of the caller is.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function corpusPath(env = process.env) {
  const p = env.APEX_FIXTURES || 'test/fixtures/corpus.json';
  return isAbsolute(p) ? p : resolve(REPO_ROOT, p);
}

/**
 * The test Neo4j's second data set (test/fixtures/notes.json): :Note nodes
 * with their own full-text index `note_text`, for the query-text tests, so
 * that corpus.json (which every expected file depends on) stays as it is.
 */
export function notesPath() {
  return resolve(REPO_ROOT, 'test/fixtures/notes.json');
}

/**
 * The per-user memories (test/fixtures/tenants.json) for the scope tests
 * (apex_route's params): {id, user_id, title, text, created_at} each, in a
 * Neo4j index, a Qdrant collection and Redis keys of their own.
 */
export function tenantsPath() {
  return resolve(REPO_ROOT, 'test/fixtures/tenants.json');
}

/** The per-user memories; throws on a malformed file. */
export function loadTenants(path = tenantsPath()) {
  const items = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(items)) throw new Error(`${path}: expected a JSON array`);
  for (const it of items) {
    for (const k of ['id', 'user_id', 'title', 'text', 'created_at']) {
      if (typeof it[k] !== 'string') throw new Error(`${path}: item ${JSON.stringify(it.id)} lacks string "${k}"`);
    }
  }
  return items;
}

/** Array of {id, kind, title, text, created_at}; throws on a malformed file. */
export function loadCorpus(path = corpusPath()) {
  const items = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(items)) throw new Error(`${path}: expected a JSON array`);
  for (const it of items) {
    for (const k of ['id', 'kind', 'title', 'text', 'created_at']) {
      if (typeof it[k] !== 'string') throw new Error(`${path}: item ${JSON.stringify(it.id)} lacks string "${k}"`);
    }
  }
  return items;
}
