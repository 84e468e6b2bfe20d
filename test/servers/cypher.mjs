// cypher.mjs - the tiny Cypher subset understood by the Neo4j test server,
// and the full-text index it queries.
//
// Accepted (case-insensitive keywords, any whitespace):
//   CALL db.index.fulltext.queryNodes(<'lit' | "lit" | $p>, <'lit' | "lit" | $p> [, <$p | {skip: n, limit: n}>])
//   YIELD node, score
//   RETURN <item>, ...   where item = node.<prop> [AS a] | node [AS a] | score [AS a]
//   [ORDER BY score DESC] [SKIP <n | $p>] [LIMIT <n | $p>] [;]
// and, for connectivity checks, `RETURN <integer> [AS a]`.
// Anything else is a Neo.ClientError.Statement.SyntaxError, as a real server
// would report for a statement it cannot run.
//
// The full-text query string is a Lucene query: an unterminated phrase (an odd
// number of unescaped `"`) fails as in Neo4j 5, echoing the query from that
// quote on (see luceneLexicalError).
import { tokenize } from './embed.mjs';

export class CypherError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

const ARG = String.raw`'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\$[A-Za-z_][A-Za-z0-9_]*`;
const NUM = String.raw`\d+|\$[A-Za-z_][A-Za-z0-9_]*`;
const OPTS = String.raw`\$[A-Za-z_][A-Za-z0-9_]*|\{[^{}]*\}`;
const FT_RE = new RegExp(
  String.raw`^\s*CALL\s+db\.index\.fulltext\.queryNodes\s*\(\s*(${ARG})\s*,\s*(${ARG})\s*(?:,\s*(${OPTS})\s*)?\)` +
  String.raw`\s+YIELD\s+node\s*,\s*score\s+RETURN\s+([\s\S]+?)` +
  String.raw`(?:\s+ORDER\s+BY\s+score\s+DESC)?(?:\s+SKIP\s+(${NUM}))?(?:\s+LIMIT\s+(${NUM}))?\s*;?\s*$`, 'i');
const RETURN_INT_RE = /^\s*RETURN\s+(\d+)(?:\s+AS\s+([A-Za-z_][A-Za-z0-9_]*|`[^`]+`))?\s*;?\s*$/i;
const ITEM_RE = /^(node(?:\s*\.\s*([A-Za-z_][A-Za-z0-9_]*))?|score)(?:\s+AS\s+([A-Za-z_][A-Za-z0-9_]*|`[^`]+`))?$/i;

function syntaxError(statement, detail) {
  const first = (statement.trim().split(/\s+/)[0] || '').slice(0, 40);
  return new CypherError('Neo.ClientError.Statement.SyntaxError',
    `Invalid input '${first}': ${detail} (line 1, column 1 (offset: 0))`);
}

function unquote(lit) {
  return lit.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** Parses a statement into a plan; throws CypherError(SyntaxError). */
export function parse(statement) {
  if (typeof statement !== 'string') throw syntaxError('', 'statement must be a string');
  const ri = RETURN_INT_RE.exec(statement);
  if (ri) return { kind: 'return', value: Number(ri[1]), column: ri[2] ? ri[2].replace(/`/g, '') : ri[1] };
  const m = FT_RE.exec(statement);
  if (!m) {
    throw syntaxError(statement, 'this test server only understands ' +
      "CALL db.index.fulltext.queryNodes(index, query) YIELD node, score RETURN ... [ORDER BY score DESC] [SKIP n] [LIMIT n]");
  }
  const items = m[4].split(',').map((s) => s.trim().replace(/\s+/g, ' '));
  const columns = items.map((text) => {
    const im = ITEM_RE.exec(text);
    if (!im) throw syntaxError(statement, `cannot return "${text}"`);
    const alias = im[3] ? im[3].replace(/`/g, '') : null;
    const expr = im[1].replace(/\s+/g, '');
    if (/^score$/i.test(expr)) return { what: 'score', name: alias ?? expr };
    if (im[2]) return { what: 'prop', prop: im[2], name: alias ?? expr };
    return { what: 'node', name: alias ?? expr };
  });
  const arg = (a) => (a && a.startsWith('$') ? { param: a.slice(1) } : a ? { value: unquote(a) } : null);
  const num = (a) => (a == null ? null : a.startsWith('$') ? { param: a.slice(1) } : { value: Number(a) });
  let options = null;
  if (m[3]) {
    if (m[3].startsWith('$')) options = { param: m[3].slice(1) };
    else {
      options = { value: {} };
      for (const kv of m[3].slice(1, -1).split(',').map((s) => s.trim()).filter(Boolean)) {
        const p = /^(skip|limit|analyzer)\s*:\s*(\d+|'[^']*'|"[^"]*")$/i.exec(kv);
        if (!p) throw syntaxError(statement, `cannot read option "${kv}"`);
        options.value[p[1].toLowerCase()] = /^\d/.test(p[2]) ? Number(p[2]) : unquote(p[2]);
      }
    }
  }
  return { kind: 'fulltext', index: arg(m[1]), query: arg(m[2]), options, columns, skip: num(m[5]), limit: num(m[6]) };
}

// JavaCC's TokenMgrError.addEscapes, which Lucene's lexer uses in its messages.
function addEscapes(s) {
  const named = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r', '"': '\\"', "'": "\\'", '\\': '\\\\' };
  return [...s].map((c) => named[c] ?? (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) > 0x7e
    ? '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0') : c)).join('');
}

/**
 * The message of the error Neo4j 5 reports for a full-text query with an
 * unterminated phrase, or null.  Lucene's lexer stops at the end of input
 * inside the phrase (TokenMgrError, lexical state 2 = DEFAULT, column = one
 * past the last character); QueryParserBase wraps it in a ParseException
 * ("Cannot parse '...'"), Neo4j's FulltextIndexReader in a RuntimeException,
 * and the procedure call reports the root cause, as seen from Neo4j 5:
 * "... Caused by: org.apache.lucene.queryparser.classic.TokenMgrError:
 * Lexical error at line 1, column 11.  Encountered: <EOF> after prefix
 * \"/b testing\" (in lexical state 2)".
 */
export function luceneLexicalError(query) {
  let open = -1;
  for (let i = 0; i < query.length; i++) {
    if (query[i] === '\\') i++;
    else if (query[i] === '"') open = open < 0 ? i : -1;
  }
  if (open < 0) return null;
  const lines = query.split('\n');
  return 'Failed to invoke procedure `db.index.fulltext.queryNodes`: Caused by: ' +
    'org.apache.lucene.queryparser.classic.TokenMgrError: ' +
    `Lexical error at line ${lines.length}, column ${lines[lines.length - 1].length + 1}.  ` +
    `Encountered: <EOF> after prefix "${addEscapes(query.slice(open))}" (in lexical state 2)`;
}

/** Names of parameters a plan needs, in order of appearance. */
function neededParams(plan) {
  if (plan.kind !== 'fulltext') return [];
  return [plan.index, plan.query, plan.options, plan.skip, plan.limit]
    .filter((x) => x && x.param !== undefined).map((x) => x.param);
}

/**
 * Full-text index over some properties of the nodes: a Lucene-like analyzer
 * (the embedding tokenizer) and score = sum over distinct matched query terms
 * of (1 + ln tf) * ln(1 + N / df).
 */
export class FulltextIndex {
  constructor(name, props, nodes) {
    this.name = name;
    this.props = props;
    this.nodes = nodes;
    this.tf = nodes.map((n) => {
      const m = new Map();
      for (const t of tokenize(props.map((p) => n.properties[p] ?? '').join(' '))) m.set(t, (m.get(t) || 0) + 1);
      return m;
    });
    this.df = new Map();
    for (const m of this.tf) for (const t of m.keys()) this.df.set(t, (this.df.get(t) || 0) + 1);
  }

  /** [{node, score}] with score > 0, by score desc then uid asc. */
  query(queryString) {
    // Lucene operators: drop the AND/OR/NOT keywords (upper-case only, as in
    // Lucene); the tokenizer already ignores + - && || ! ( ) { } [ ] ^ " ~ * ? : \ /
    const cleaned = String(queryString).replace(/\b(AND|OR|NOT)\b/g, ' ');
    const terms = [...new Set(tokenize(cleaned))];
    const N = this.nodes.length;
    const hits = [];
    this.nodes.forEach((node, i) => {
      let score = 0;
      for (const t of terms) {
        const tf = this.tf[i].get(t);
        if (tf) score += (1 + Math.log(tf)) * Math.log(1 + N / this.df.get(t));
      }
      if (score > 0) hits.push({ node, score });
    });
    hits.sort((a, b) => b.score - a.score ||
      String(a.node.properties.uid).localeCompare(String(b.node.properties.uid)));
    return hits;
  }
}

/**
 * Runs a statement; returns {columns, rows} where a row holds raw values:
 * numbers/strings, or {node} wrappers that the HTTP layer renders per API.
 */
export function run(statement, parameters, indexes) {
  const plan = parse(statement);
  const params = parameters && typeof parameters === 'object' ? parameters : {};
  const missing = neededParams(plan).filter((p) => !(p in params));
  if (missing.length) {
    throw new CypherError('Neo.ClientError.Statement.ParameterMissing', `Expected parameter(s): ${missing.join(', ')}`);
  }
  if (plan.kind === 'return') return { columns: [plan.column], rows: [[plan.value]] };

  const val = (a) => (a.param !== undefined ? params[a.param] : a.value);
  const indexName = val(plan.index);
  const queryString = val(plan.query);
  if (typeof indexName !== 'string' || typeof queryString !== 'string') {
    throw new CypherError('Neo.ClientError.Statement.TypeError',
      'Type mismatch: expected String for the index name and the query string');
  }
  const index = indexes.get(indexName);
  if (!index) {
    throw new CypherError('Neo.ClientError.Procedure.ProcedureCallFailed',
      'Failed to invoke procedure `db.index.fulltext.queryNodes`: Caused by: java.lang.IllegalArgumentException: ' +
      `There is no such fulltext schema index: ${indexName}`);
  }
  const lexical = luceneLexicalError(queryString);
  if (lexical) throw new CypherError('Neo.ClientError.Procedure.ProcedureCallFailed', lexical);
  const intOf = (a, what) => {
    if (!a) return null;
    const n = val(a);
    if (!Number.isInteger(n) || n < 0) {
      throw new CypherError('Neo.ClientError.Statement.ArgumentError',
        `Invalid input. '${n}' is not a valid value. Must be a non-negative integer. (${what})`);
    }
    return n;
  };
  let hits = index.query(queryString);
  const opts = plan.options ? val(plan.options) || {} : {};
  if (Number.isInteger(opts.skip)) hits = hits.slice(opts.skip);
  if (Number.isInteger(opts.limit)) hits = hits.slice(0, opts.limit);
  const skip = intOf(plan.skip, 'SKIP') ?? 0;
  const limit = intOf(plan.limit, 'LIMIT');
  hits = hits.slice(skip, limit == null ? undefined : skip + limit);
  const rows = hits.map(({ node, score }) => plan.columns.map((c) =>
    c.what === 'score' ? score : c.what === 'node' ? { node } : (node.properties[c.prop] ?? null)));
  return { columns: plan.columns.map((c) => c.name), rows };
}
