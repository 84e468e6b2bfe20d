// memo.mjs - a bounded memo for the test servers' deterministic answers.
//
// The servers answer the same question the same way every time (the corpus
// is fixed, and Qdrant clears a collection's memo when its points change),
// so under a benchmark's load most of the work is recomputing what was just
// computed.  What is stored is shared between answers: nothing may modify it
// (http.mjs serialises it; the faults that edit an answer edit a copy).
export class Memo {
  constructor(max = 256) {
    this.max = max;
    this.map = new Map();
  }

  /** The stored value of key, else compute()'s, stored (a throw stores nothing). */
  get(key, compute) {
    const hit = this.map.get(key);
    if (hit !== undefined) return hit;
    const value = compute();
    // the oldest entry makes room: a Map iterates in insertion order
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value);
    this.map.set(key, value);
    return value;
  }

  clear() { this.map.clear(); }
}

// Parts of answers that are shared and never modified (see share()).
const sharedParts = new WeakSet();

/** Marks a memoised object or array (never modified) whose serialised form may be kept; returns it. */
export function share(part) {
  sharedParts.add(part);
  return part;
}

/**
 * JSON.stringify(value) (no indentation) cut into pieces: strings, and the
 * shared parts (share()) as they are, in order.  The strings and each
 * part's JSON.stringify, joined, are JSON.stringify(value) byte for byte,
 * so the caller can keep a part's serialised form and reuse it: a large
 * answer served again costs its envelope, not its thousand rows.  A part
 * always begins with [ or { and ends with ] or }.  Returns undefined for a
 * value JSON.stringify leaves out (undefined, a function, a symbol).
 */
export function jsonPieces(value) {
  const pieces = [];
  let text = '';
  const put = (v) => {
    if (v === null || typeof v !== 'object' || typeof v.toJSON === 'function') {
      const t = JSON.stringify(v);
      if (t === undefined) return false;
      text += t;
    } else if (sharedParts.has(v)) {
      if (text) pieces.push(text);
      text = '';
      pieces.push(v);
    } else if (Array.isArray(v)) {
      text += '[';
      v.forEach((x, i) => {
        if (i > 0) text += ',';
        // JSON.stringify writes null for what it cannot write in an array
        if (!put(x)) text += 'null';
      });
      text += ']';
    } else if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) {
      text += JSON.stringify(v);
    } else {
      text += '{';
      let first = true;
      for (const k of Object.keys(v)) {
        // and leaves out a member it cannot write
        const x = v[k];
        if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
        if (x !== null && typeof x === 'object' && typeof x.toJSON === 'function' && JSON.stringify(x) === undefined) continue;
        text += (first ? '' : ',') + JSON.stringify(k) + ':';
        first = false;
        put(x);
      }
      text += '}';
    }
    return true;
  };
  if (!put(value)) return undefined;
  if (text) pieces.push(text);
  return pieces;
}
