// log.mjs - the request log shared by the three test servers.
//
// One JSON object per finished request (see http.mjs for the fields). Entries
// are kept in memory (served by GET /__log) and, when APEX_TEST_LOG is set,
// appended to that file as JSON lines. The append is synchronous on purpose:
// a test that has just seen a response can read the file and find the entry.
// The file is opened once (on the first entry) in append mode and kept open:
// every write still lands at the file's current end, also after a test has
// truncated it (`: >"$APEX_TEST_LOG"`), without an open and a close per request.
// Of the request headers only the kind of auth, the User-Agent (who asks,
// issue 14 item 5: no secret), the X-... headers (the `headers` option's, in
// the tests), Via (a proxy's) and Access-Mode (Neo4j's) are recorded.
import { openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Milliseconds since the epoch with sub-millisecond resolution (one clock for start and end). */
export function nowMs() {
  return performance.timeOrigin + performance.now();
}

export class RequestLog {
  constructor(file) {
    this.file = file || null;
    this.fd = null;
    this.entries = [];
  }

  add(entry) {
    this.entries.push(entry);
    if (!this.file) return;
    if (this.fd === null) this.fd = openSync(this.file, 'a');
    writeSync(this.fd, JSON.stringify(entry) + '\n');
  }

  /** Entries of one server, or all when `server` is falsy. */
  list(server) {
    return server ? this.entries.filter((e) => e.server === server) : this.entries.slice();
  }

  clear(server) {
    this.entries = server ? this.entries.filter((e) => e.server !== server) : [];
  }
}
