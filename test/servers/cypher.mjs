// cypher.mjs - the tiny Cypher subset understood by the Neo4j test server,
// and the full-text index it queries.
//
// Accepted (case-insensitive keywords, any whitespace):
//   CALL db.index.fulltext.queryNodes(<'lit' | "lit" | $p>, <'lit' | "lit" | $p> [, <$p | {skip: n, limit: n}>])
//   YIELD node, score
//   [WHERE <cond> [AND <cond>]...]  where cond = node.<prop> <op> <'lit' | "lit" | number | $p>,
//                                   op one of = <> < <= > >= (Cypher's comparison: a null
//                                   or a value of another type is null, and drops the row)
//   RETURN <item>, ...   where item = node.<prop> [AS a] | node [AS a] | score [AS a]
//   [ORDER BY score DESC] [SKIP <n | $p>] [LIMIT <n | $p>] [;]
// and, for connectivity checks, `RETURN <integer> [AS a]`.
// Anything else is a Neo.ClientError.Statement.SyntaxError, as a real server
// would report for a statement it cannot run.
//
// The full-text query string is a Lucene query (lucene.mjs): what Lucene
// refuses fails as in Neo4j 5, a ProcedureCallFailed naming the root cause
// (org.apache.lucene.queryparser.classic.ParseException or TokenMgrError).
import { tokenize } from './embed.mjs';
import { ParseException, TooManyClauses, checkNestedClauses, parse as luceneParse } from './lucene.mjs';
import { Memo } from './memo.mjs';

export class CypherError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

const ARG = String.raw`'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\$[A-Za-z_][A-Za-z0-9_]*`;
const NUM = String.raw`\d+|\$[A-Za-z_][A-Za-z0-9_]*`;
const OPTS = String.raw`\$[A-Za-z_][A-Za-z0-9_]*|\{[^{}]*\}`;
const FT_RE = new RegExp(
  String.raw`^\s*CALL\s+db\.index\.fulltext\.queryNodes\s*\(\s*(${ARG})\s*,\s*(${ARG})\s*(?:,\s*(${OPTS})\s*)?\)` +
  String.raw`\s+YIELD\s+node\s*,\s*score(?:\s+WHERE\s+([\s\S]+?))?\s+RETURN\s+([\s\S]+?)` +
  String.raw`(?:\s+ORDER\s+BY\s+score\s+DESC)?(?:\s+SKIP\s+(${NUM}))?(?:\s+LIMIT\s+(${NUM}))?\s*;?\s*$`, 'i');
const RETURN_INT_RE = /^\s*RETURN\s+(\d+)(?:\s+AS\s+([A-Za-z_][A-Za-z0-9_]*|`[^`]+`))?\s*;?\s*$/i;
const COND_RE = new RegExp(String.raw`^node\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=|<>|<=|>=|<|>)\s*(${ARG}|-?\d+(?:\.\d+)?)$`);
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
  const items = m[5].split(',').map((s) => s.trim().replace(/\s+/g, ' '));
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
  const where = (m[4] ? m[4].split(/\s+AND\s+/i) : []).map((text) => {
    const c = COND_RE.exec(text.trim());
    if (!c) throw syntaxError(statement, `cannot read the condition "${text.trim()}"`);
    const operand = /^-?\d/.test(c[3]) ? { value: Number(c[3]) } : arg(c[3]);
    return { prop: c[1], op: c[2], operand };
  });
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
  return { kind: 'fulltext', index: arg(m[1]), query: arg(m[2]), options, where, columns, skip: num(m[6]), limit: num(m[7]) };
}

/** Names of parameters a plan needs, in order of appearance. */
function neededParams(plan) {
  if (plan.kind !== 'fulltext') return [];
  return [plan.index, plan.query, plan.options, ...plan.where.map((c) => c.operand), plan.skip, plan.limit]
    .filter((x) => x && x.param !== undefined).map((x) => x.param);
}

/**
 * Cypher's comparison of a property with a value: true, false, or null
 * (a null side, or values of different types) -- WHERE keeps only true.
 */
function compare(a, op, b) {
  if (a == null || b == null) return null;
  const type = (v) => (typeof v === 'number' ? 'number' : typeof v === 'string' ? 'string' : typeof v === 'boolean' ? 'boolean' : 'other');
  if (type(a) !== type(b) || type(a) === 'other') return op === '=' ? false : op === '<>' ? true : null;
  switch (op) {
    case '=': return a === b;
    case '<>': return a !== b;
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    default: return a >= b;
  }
}

/**
 * Full-text index over some properties of the nodes.  The query string is
 * parsed by Lucene's classic query parser as Neo4j 5 runs it (lucene.mjs:
 * MultiFieldQueryParser over the index's properties, leading wildcards
 * allowed), so operators, wildcards, phrases and the parse errors are real.
 * The analyzer is the embedding tokenizer (lower case, split on anything but
 * [a-z0-9], English stopwords dropped).  Scoring is a simplified model, not
 * BM25: a term scores (1 + ln tf) * ln(1 + N / df), over all the properties
 * together unless the query names one (`name:x`), each distinct term of a
 * run of plain words once; a phrase scores its terms by the phrase's
 * frequency; fuzzy terms score like terms times 1 - edits / length;
 * wildcard, prefix, regexp, range and `*:*` matches score a constant 1 (as
 * Lucene's constant-score rewrite does); a boolean query sums its matching
 * clauses and a boost multiplies.
 */
export class FulltextIndex {
  constructor(name, props, nodes) {
    this.name = name;
    this.props = props;
    this.nodes = nodes;
    // per node: each property's token list (for phrases) and term counts;
    // ALL holds the properties together
    this.docs = nodes.map((n) => {
      const fields = {};
      for (const p of props) fields[p] = tokenize(n.properties[p] ?? '');
      fields[ALL] = props.flatMap((p) => fields[p]);
      const tf = {};
      for (const [f, toks] of Object.entries(fields)) {
        tf[f] = new Map();
        for (const t of toks) tf[f].set(t, (tf[f].get(t) || 0) + 1);
      }
      return { fields, tf };
    });
    this.df = {};
    for (const f of [...props, ALL]) {
      this.df[f] = new Map();
      for (const d of this.docs) for (const t of d.tf[f].keys()) this.df[f].set(t, (this.df[f].get(t) || 0) + 1);
    }
    // the nodes never change: a query string's hits are computed once
    this.memo = new Memo(256);
  }

  /**
   * [{node, score}] by score desc then uid asc; throws lucene.ParseException
   * (a clause limit met while parsing among them) or, before searching,
   * lucene.TooManyNestedClauses.  The array is memoised: callers must not
   * modify it.
   */
  query(queryString) {
    const text = String(queryString);
    return this.memo.get(text, () => this.search(text));
  }

  search(queryString) {
    const fields = this.props.length;
    const q = luceneParse(queryString, { analyzer: tokenize, allowLeadingWildcard: true, fields });
    checkNestedClauses(q, { fields });
    const hits = [];
    this.nodes.forEach((node, i) => {
      const score = this.score(q, this.docs[i]);
      if (score !== null && score > 0) hits.push({ node, score });
    });
    hits.sort((a, b) => b.score - a.score ||
      String(a.node.properties.uid).localeCompare(String(b.node.properties.uid)));
    return hits;
  }

  // the index field a query names: null = all of them; undefined = none
  field(f) {
    if (f === null) return ALL;
    return this.props.includes(f) ? f : undefined;
  }

  termScore(f, doc, t) {
    const tf = doc.tf[f].get(t);
    return tf ? (1 + Math.log(tf)) * Math.log(1 + this.nodes.length / this.df[f].get(t)) : null;
  }

  // Terms of the query's field(s) in this document that `test` accepts
  matchingTerms(f, doc, test) {
    return [...doc.tf[f].keys()].filter(test);
  }

  /** The document's score for query q, or null when it does not match. */
  score(q, doc) {
    switch (q.type) {
      case 'bool': {
        // every MUST, no MUST_NOT, and a SHOULD when there is no MUST
        let score = 0;
        let matched = false;
        for (const c of q.clauses) {
          const s = this.score(c.query, doc);
          if (c.occur === 'MUST_NOT') {
            if (s !== null) return null;
          } else if (s !== null) {
            score += s;
            matched = true;
          } else if (c.occur === 'MUST') return null;
        }
        return matched ? score : null;
      }
      case 'boost': {
        const s = this.score(q.query, doc);
        return s === null ? null : s * q.boost;
      }
      case 'all':
        return 1;
      default:
        break;
    }
    const f = this.field(q.field);
    if (f === undefined) return null;
    switch (q.type) {
      case 'term':
        return this.termScore(f, doc, q.text);
      case 'phrase':
        return this.phraseScore(f, doc, q);
      case 'fuzzy': {
        let score = null;
        for (const t of this.matchingTerms(f, doc, (t) => editDistance(q.text, t, q.maxEdits) <= q.maxEdits)) {
          const d = editDistance(q.text, t, q.maxEdits);
          const s = this.termScore(f, doc, t) * (1 - d / Math.min([...q.text].length, [...t].length));
          score = (score ?? 0) + s;
        }
        return score;
      }
      case 'wildcard':
      case 'prefix':
      case 'regexp':
      case 'range':
        return this.matchingTerms(f, doc, termTest(q)).length > 0 ? 1 : null;
      default:
        throw new Error(`unknown query ${q.type}`);
    }
  }

  // The phrase's terms in order, each within `slop` positions of where it
  // should be; each property is a separate field (no phrase spans two).
  phraseScore(f, doc, q) {
    const lists = f === ALL ? this.props.map((p) => doc.fields[p]) : [doc.fields[f]];
    let freq = 0;
    for (const toks of lists) {
      toks.forEach((t, start) => {
        if (t !== q.terms[0]) return;
        const ok = q.terms.every((term, k) => {
          for (let p = Math.max(0, start + k - q.slop); p <= start + k + q.slop && p < toks.length; p++) {
            if (toks[p] === term) return true;
          }
          return false;
        });
        if (ok) freq++;
      });
    }
    if (freq === 0) return null;
    return q.terms.reduce((s, t) => s + (1 + Math.log(freq)) * Math.log(1 + this.nodes.length / (this.df[f].get(t) || 1)), 0);
  }
}

// the key of all the properties together (no property name starts with NUL)
const ALL = '\u0000all';

// A predicate on index terms for a wildcard, prefix, regexp or range query
function termTest(q) {
  if (q.type === 'prefix') return (t) => t.startsWith(q.pattern);
  if (q.type === 'range') {
    const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
    return (t) => (q.lower === null || (q.includeLower ? cmp(t, q.lower) >= 0 : cmp(t, q.lower) > 0)) &&
      (q.upper === null || (q.includeUpper ? cmp(t, q.upper) <= 0 : cmp(t, q.upper) < 0));
  }
  let re;
  if (q.type === 'wildcard') {
    // WildcardQuery: * any string, ? one character, \ takes the next literally
    const src = q.pattern.replace(/\\([\s\S])|([*?])|([\s\S])/g, (m, esc, wild, ch) =>
      (wild === '*' ? '[\\s\\S]*' : wild === '?' ? '[\\s\\S]' : (esc ?? ch).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    re = new RegExp(`^(?:${src})$`, 'u');
  } else {
    // Lucene's RegExp read as a JavaScript one (see lucene.mjs)
    try { re = new RegExp(`^(?:${q.pattern})$`, 'u'); } catch { return () => false; }
  }
  return (t) => re.test(t);
}

// Damerau-Levenshtein (optimal string alignment) distance, as FuzzyQuery's
// transpositions; anything above `max` is reported as max + 1.
function editDistance(a, b, max) {
  const x = [...a];
  const y = [...b];
  if (Math.abs(x.length - y.length) > max) return max + 1;
  const d = Array.from({ length: x.length + 1 }, (_, i) => [i, ...new Array(y.length).fill(0)]);
  for (let j = 1; j <= y.length; j++) d[0][j] = j;
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[x.length][y.length];
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
  const intOf = (a, what) => {
    if (!a) return null;
    const n = val(a);
    if (!Number.isInteger(n) || n < 0) {
      throw new CypherError('Neo.ClientError.Statement.ArgumentError',
        `Invalid input. '${n}' is not a valid value. Must be a non-negative integer. (${what})`);
    }
    return n;
  };
  let hits;
  try {
    hits = index.query(queryString);
  } catch (e) {
    if (!(e instanceof ParseException) && !(e instanceof TooManyClauses)) throw e;
    // Neo4j names the root cause: the lexer's or the grammar's own
    // exception, or IndexSearcher's TooManyClauses (while parsing) or
    // TooManyNestedClauses (at search time), e.g. OpenSPG/KAG#465 and #376
    const root = e.cause ?? e;
    throw new CypherError('Neo.ClientError.Procedure.ProcedureCallFailed',
      `Failed to invoke procedure \`db.index.fulltext.queryNodes\`: Caused by: ${root.javaClass}: ${root.message}`);
  }
  const opts = plan.options ? val(plan.options) || {} : {};
  if (Number.isInteger(opts.skip)) hits = hits.slice(opts.skip);
  if (Number.isInteger(opts.limit)) hits = hits.slice(0, opts.limit);
  // WHERE filters what the procedure yields (its own skip and limit first)
  hits = hits.filter(({ node }) => plan.where.every((c) =>
    compare(node.properties[c.prop], c.op, val(c.operand)) === true));
  const skip = intOf(plan.skip, 'SKIP') ?? 0;
  const limit = intOf(plan.limit, 'LIMIT');
  hits = hits.slice(skip, limit == null ? undefined : skip + limit);
  const rows = hits.map(({ node, score }) => plan.columns.map((c) =>
    c.what === 'score' ? score : c.what === 'node' ? { node } : (node.properties[c.prop] ?? null)));
  return { columns: plan.columns.map((c) => c.name), rows };
}
