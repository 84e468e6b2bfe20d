// Ask apex_router a question with node-postgres (pg), and read the answer.
//
//     node route.mjs [--dsn DSN] [-k K] QUESTION USER_ID
//
// Connects with the DSN given (postgresql://user@host/db), else as libpq
// would: pg reads PGHOST, PGPORT, PGDATABASE, PGUSER and PGPASSWORD.  Calls
// apex_route() with the question and the user's scope
// (params => {"user_id": ...}), prints the fused rows with each source's
// own rank from the payload, and says when the result is partial: which
// source did not answer, and why.
//
// Install its one dependency first: npm ci (in this directory).
import { parseArgs } from 'node:util';
import pg from 'pg';

// $1, $2, $3 are bound parameters: never put the question into the
// statement's text.  Named notation (k => ...) keeps the call valid
// whatever other arguments apex_route has.
const ROUTE = `
    SELECT rank, id, title, score, found_in, payload, partial
    FROM apex_route($1, k => $2, params => $3)
    ORDER BY rank`;

const USAGE = 'usage: node route.mjs [--dsn DSN] [-k K] QUESTION USER_ID';
let opts, positionals;
try {
  ({ values: opts, positionals } = parseArgs({
    options: {
      dsn: { type: 'string' },
      k: { type: 'string', short: 'k', default: '10' }, // rows to return, as apex_route
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  }));
} catch (err) {
  // an unknown option or one without its value
  console.error(`${USAGE}\n${err.message}`);
  process.exit(2);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
if (positionals.length !== 2 || !/^-?[0-9]+$/.test(opts.k)) {
  console.error(positionals.length !== 2 ? USAGE : `${USAGE}\n-k must be an integer: "${opts.k}"`);
  process.exit(2);
}
const [question, userId] = positionals;

// no DSN: pg takes the PG* variables
const client = new pg.Client(opts.dsn ? { connectionString: opts.dsn } : {});
// A source that fails costs a WARNING; pg emits it as a 'notice' event.
client.on('notice', (msg) => console.log(`server ${msg.severity}: ${msg.message}`));
await client.connect();
let rows;
try {
  // pg sends a plain object as JSON: params is the call's scope
  ({ rows } = await client.query(ROUTE, [question, Number(opts.k), { user_id: userId }]));
} finally {
  await client.end();
}

for (const row of rows) {
  // jsonb arrives parsed, text[] as an array, float8 as a number: payload
  // holds, for each source that found the item, its own rank, score and item
  const ranks = row.found_in.map((source) => `${source} #${row.payload[source].rank}`).join(', ');
  console.log(`${row.rank}. ${row.id} (${row.score.toFixed(4)}) ${row.title ?? '(no title)'} [${ranks}]`);
}

if (rows.length === 0) {
  // a call whose every source failed has no row to carry partial;
  // min_sources => 1 would make it an error instead
  console.log('no rows');
} else if (rows[0].partial === null) {
  // partial is the same on every row: null when every source answered
  console.log('complete result: every source answered');
} else {
  for (const [source, why] of Object.entries(rows[0].partial)) {
    if (why.status === 'ok') {
      console.log(`partial result: source "${source}" skipped ${why.skipped} items: ${why.error}`);
    } else {
      console.log(`partial result: source "${source}" did not answer ` +
                  `(${why.status}, SQLSTATE ${why.sqlstate}): ${why.error}`);
    }
  }
}
