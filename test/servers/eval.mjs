// eval.mjs - the retrieval-quality evaluation set (test/fixtures/eval,
// issue 15 part 6), served beside the fixture corpus under names of its
// own so that nothing the other tests read changes: Neo4j :Eval nodes with
// a full-text index `eval_text`, a Qdrant collection `eval`, a second
// Graphiti deployment at /eval (group "eval"), Redis keys eval:* (written
// by test/fixtures/eval/load-redis.mjs).  Each store gets the items a real
// deployment would keep there (an item's "stores").
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** APEX_EVAL_DIR/items.json (test/lib.sh), or the repository's. */
export function evalPath(env = process.env) {
  return resolve(env.APEX_EVAL_DIR || resolve(REPO_ROOT, 'test/fixtures/eval'), 'items.json');
}

const STORES = new Set(['neo4j', 'qdrant', 'graphiti', 'redis', 'sql']);

/** The items of the evaluation set; throws on a malformed file. */
export function loadEval(path = evalPath()) {
  const items = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(items)) throw new Error(`${path}: expected a JSON array`);
  for (const it of items) {
    for (const k of ['id', 'kind', 'title', 'text', 'created_at']) {
      if (typeof it[k] !== 'string') throw new Error(`${path}: item ${JSON.stringify(it.id)} lacks string "${k}"`);
    }
    if (!Array.isArray(it.stores) || !it.stores.every((s) => STORES.has(s))) {
      throw new Error(`${path}: item ${it.id} has no valid "stores"`);
    }
  }
  return items;
}

/** The items kept in one store. */
export function evalItems(store, items = loadEval()) {
  return items.filter((it) => it.stores.includes(store));
}
