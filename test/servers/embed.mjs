// embed.mjs - deterministic text embedding shared by the Qdrant and embedder
// test servers (and by the conformance tests, which recompute it).
//
// The algorithm is a contract: clients and tests may re-implement it, so it
// must never change silently.
//
//   1. lowercase the text;
//   2. tokens = split on /[^a-z0-9]+/, drop empty tokens and the stopwords
//        a an and are as at be by did do for from had has have how i in is it
//        of on or our the to was we were what when where which who why will
//        with you
//   3. for each token: h = FNV-1a 32-bit over its UTF-8 bytes
//        (offset basis 2166136261, prime 16777619, unsigned 32-bit math);
//        idx = h % DIM; sign = (h >>> 31) ? -1 : +1; v[idx] += sign;
//   4. L2-normalise v (a zero vector, e.g. from an all-stopword text, stays zero).
//
// Texts sharing words therefore get a positive cosine similarity, which is
// enough to make nearest-neighbour results meaningful in tests.

export const STOPWORDS = new Set(
  ('a an and are as at be by did do for from had has have how i in is it of on or our ' +
   'the to was we were what when where which who why will with you').split(' '));

const encoder = new TextEncoder();

/** Tokens of `text` after lowercasing, splitting and stopword removal. */
export function tokenize(text) {
  return String(text).toLowerCase().split(/[^a-z0-9]+/)
    .filter((t) => t.length > 0 && !STOPWORDS.has(t));
}

/** FNV-1a 32-bit hash of the UTF-8 bytes of `s`, as an unsigned integer. */
export function fnv1a32(s) {
  let h = 2166136261;
  for (const b of encoder.encode(s)) {
    h ^= b;
    h = Math.imul(h, 16777619) >>> 0; // imul keeps the 32-bit product exact
  }
  return h >>> 0;
}

/** Embedding of `text` as a plain array of `dim` doubles, unit length or zero. */
export function embed(text, dim = 64) {
  const v = new Array(dim).fill(0);
  for (const tok of tokenize(text)) {
    const h = fnv1a32(tok);
    v[h % dim] += (h >>> 31) ? -1 : 1;
  }
  return normalize(v);
}

/** L2-normalised copy of `v`; the zero vector is returned unchanged. */
export function normalize(v) {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return n === 0 ? v.slice() : v.map((x) => x / n);
}

/** Number of word-like pieces (stopwords included): our stand-in for "tokens" in usage counts. */
export function countTokens(text) {
  return (String(text).toLowerCase().match(/[a-z0-9]+/g) || []).length;
}
