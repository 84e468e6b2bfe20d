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
