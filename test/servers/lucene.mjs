// lucene.mjs - Lucene's classic query parser (org.apache.lucene.queryparser.
// classic, Lucene 9, as Neo4j 5 runs it for db.index.fulltext.queryNodes),
// ported so that the test Neo4j accepts, refuses and reports exactly what a
// real one does.
//
// Why a port and not an npm parser: the npm parsers (lucene, liqe,
// lucene-query-parser, ...) are PEG grammars written from the documented
// syntax.  They differ from the real grammar where it matters here (the
// lexer's longest match makes `C++` one term and `foo]` a lexical error; a
// term followed by terms is one "multi-term" chunk; `\u` is a Unicode escape)
// and none reproduces JavaCC's error messages, which are what a caller sees.
//
// What is ported literally: the token manager's rules (QueryParser.jj: every
// token, the three lexical states Boost = 0, Range = 1, DEFAULT = 2, longest
// match with ties to the first declared) and the generated parser's error
// machinery (jj_la1 choice points, the LOOKAHEAD(2) scans, jj_rescan_token
// and jj_add_error_token, whose inverted duplicate test is why a real
// "Was expecting one of:" list can name <TERM> twice), so that a
// ParseException's "Encountered ... Was expecting ..." text and a
// TokenMgrError's "Lexical error at line 1, column N" are Lucene's own; and
// QueryParserBase's semantics (escape, discardEscapeChar, addClause,
// wildcard/prefix/fuzzy/regexp/range/phrase/boost handling and their
// ParseExceptions).  The character stream is Lucene's FastCharStream: every
// token is on "line 1" and columns are 0-based offsets.
//
// What is simplified: scoring (see FulltextIndex in cypher.mjs), the regular
// expression dialect (translated to a JavaScript RegExp; Lucene's `~`, `&`
// and `<n-m>` operators are not modelled and match nothing), DateTools in
// ranges, and a fuzzy term's expansion (counted as one clause per field).
//
// The clause limit (IndexSearcher.maxClauseCount, 1024) is modelled at both
// places Lucene 9 enforces it: while parsing, BooleanQuery.Builder.add
// refuses a 1025th clause in any one boolean query (IndexSearcher.
// TooManyClauses, which QueryParserBase.parse wraps as "too many boolean
// clauses"); at search time IndexSearcher.rewrite visits the rewritten query
// and refuses one whose leaf clauses, across every nested boolean query and
// every field of a MultiFieldQueryParser, number more than 1025 (its visitor
// tests `numClauses > maxClauseCount` before counting each leaf:
// TooManyNestedClauses; see nestedClauses()).
//
// parse(query, opts) returns a query tree or throws ParseException whose
// message is Lucene's "Cannot parse '<query>': <cause>" and whose `cause` is
// the inner ParseException, TokenMgrError or TooManyClauses: Neo4j reports
// that root cause.

/* Token kinds, as in QueryParserConstants */
export const K = {
  EOF: 0, AND: 8, OR: 9, NOT: 10, PLUS: 11, MINUS: 12, BAREOPER: 13, LPAREN: 14, RPAREN: 15,
  COLON: 16, STAR: 17, CARAT: 18, QUOTED: 19, TERM: 20, FUZZY_SLOP: 21, PREFIXTERM: 22,
  WILDTERM: 23, REGEXPTERM: 24, RANGEIN_START: 25, RANGEEX_START: 26, NUMBER: 27, RANGE_TO: 28,
  RANGEIN_END: 29, RANGEEX_END: 30, RANGE_QUOTED: 31, RANGE_GOOP: 32,
};

const TOKEN_IMAGE = [
  '<EOF>', '<_NUM_CHAR>', '<_ESCAPED_CHAR>', '<_TERM_START_CHAR>', '<_TERM_CHAR>', '<_WHITESPACE>',
  '<_QUOTED_CHAR>', '<token of kind 7>', '<AND>', '<OR>', '<NOT>', '"+"', '"-"', '<BAREOPER>', '"("',
  '")"', '":"', '"*"', '"^"', '<QUOTED>', '<TERM>', '<FUZZY_SLOP>', '<PREFIXTERM>', '<WILDTERM>',
  '<REGEXPTERM>', '"["', '"{"', '<NUMBER>', '"TO"', '"]"', '"}"', '<RANGE_QUOTED>', '<RANGE_GOOP>',
];

const BOOST = 0;
const RANGE = 1;
const DEFAULT = 2;

export class ParseException extends Error {
  constructor(message, cause) {
    super(message);
    this.javaClass = 'org.apache.lucene.queryparser.classic.ParseException';
    if (cause) this.cause = cause;
  }
}

export class TokenMgrError extends Error {
  constructor(message) {
    super(message);
    this.javaClass = 'org.apache.lucene.queryparser.classic.TokenMgrError';
  }
}

/** IndexSearcher.TooManyClauses: a boolean query given a clause beyond the limit */
export class TooManyClauses extends Error {
  constructor(maxClauseCount, message = `maxClauseCount is set to ${maxClauseCount}`) {
    super(message);
    this.javaClass = 'org.apache.lucene.search.IndexSearcher$TooManyClauses';
  }
}

/** IndexSearcher.TooManyNestedClauses: too many leaf clauses in the whole query, at search time */
export class TooManyNestedClauses extends TooManyClauses {
  constructor(maxClauseCount) {
    super(maxClauseCount, `Query contains too many nested clauses; maxClauseCount is set to ${maxClauseCount}`);
    this.javaClass = 'org.apache.lucene.search.IndexSearcher$TooManyNestedClauses';
  }
}

/* JavaCC's addEscapes (TokenMgrError) and add_escapes (ParseException): the same */
export function addEscapes(s) {
  const named = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r', '"': '\\"', "'": "\\'", '\\': '\\\\' };
  let out = '';
  for (const c of s) {
    // Java iterates UTF-16 units: a supplementary character is two \u escapes
    for (let i = 0; i < c.length; i++) {
      const u = c[i];
      const code = u.charCodeAt(0);
      out += named[u] ?? (code < 0x20 || code > 0x7e ? '\\u' + code.toString(16).padStart(4, '0') : u);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Token manager
//
// Character classes of QueryParser.jj.  _TERM_START_CHAR is any character but
// these (or an escaped character); _TERM_CHAR adds "-" and "+".
const NOT_TERM_START = ' \t\n\r\u3000+-!():^[]"{}~*?\\/';
const WS = ' \t\n\r\u3000';
const TS = String.raw`(?:[^ \t\n\r\u3000+\-!():^\[\]"{}~*?\\/]|\\[\s\S])`;
const TC = String.raw`(?:${TS}|[-+])`;

// Per state: [kind (-1 = skip), pattern], in declaration order (ties go to
// the first).  `alive` patterns say how far an unfinished token could still
// grow: they decide the "after prefix" of a lexical error at end of input.
const RULES = {
  [DEFAULT]: [
    [-1, `[${WS}]`],
    [K.AND, '(?:AND|&&)'], [K.OR, String.raw`(?:OR|\|\|)`], [K.NOT, '(?:NOT|!)'],
    [K.PLUS, String.raw`\+`], [K.MINUS, '-'], [K.BAREOPER, `[-+!][${WS}]`],
    [K.LPAREN, String.raw`\(`], [K.RPAREN, String.raw`\)`], [K.COLON, ':'], [K.STAR, String.raw`\*`],
    [K.CARAT, String.raw`\^`],
    [K.QUOTED, String.raw`"(?:[^"\\]|\\[\s\S])*"`],
    [K.TERM, `${TS}${TC}*`],
    [K.FUZZY_SLOP, String.raw`~(?:[0-9]+(?:\.[0-9]+)?${TC}*|${TC}*)`],
    [K.PREFIXTERM, String.raw`(?:\*|${TS}${TC}*\*)`],
    [K.WILDTERM, String.raw`(?:${TS}|[*?])(?:${TC}|[*?])*`],
    [K.REGEXPTERM, String.raw`/(?:\\/|[^/])*/`],
    [K.RANGEIN_START, String.raw`\[`], [K.RANGEEX_START, '\\{'],
  ],
  [BOOST]: [[K.NUMBER, String.raw`[0-9]+(?:\.[0-9]+)?`]],
  [RANGE]: [
    [-1, `[${WS}]`],
    [K.RANGE_TO, 'TO'], [K.RANGEIN_END, String.raw`\]`], [K.RANGEEX_END, '\\}'],
    [K.RANGE_QUOTED, String.raw`"(?:\\"|[^"])+"`],
    [K.RANGE_GOOP, String.raw`[^ \]}]+`],
  ],
};
const NEXT_STATE = { [K.CARAT]: BOOST, [K.NUMBER]: DEFAULT, [K.RANGEIN_START]: RANGE, [K.RANGEEX_START]: RANGE, [K.RANGEIN_END]: DEFAULT, [K.RANGEEX_END]: DEFAULT };
const COMPILED = Object.fromEntries(Object.entries(RULES).map(([s, rules]) =>
  [s, rules.map(([kind, re]) => [kind, new RegExp(re, 'y')])]));

// Unfinished tokens that only end of input can leave open, in DEFAULT: an
// open phrase, an open regular expression, a trailing backslash.  (In Range
// and Boost every character either matches or ends a token at once.)
const OPEN_AT_EOF = /(?:"(?:[^"\\]|\\[\s\S])*\\?|\/[^/]*|\\)$/y;

class TokenManager {
  constructor(input) {
    this.input = input;
    this.pos = 0;
    this.state = DEFAULT;
  }

  next() {
    for (;;) {
      const begin = this.pos;
      if (begin >= this.input.length) return { kind: K.EOF, image: '', beginColumn: begin, next: null };
      let best = null;
      for (const [kind, re] of COMPILED[this.state]) {
        re.lastIndex = begin;
        const m = re.exec(this.input);
        if (m && m[0].length > 0 && (!best || m[0].length > best[1].length)) best = [kind, m[0]];
      }
      if (!best) throw this.lexicalError(begin);
      this.pos = begin + best[1].length;
      if (best[0] < 0) continue; // whitespace
      if (best[0] in NEXT_STATE) this.state = NEXT_STATE[best[0]];
      return { kind: best[0], image: best[1], beginColumn: begin, next: null };
    }
  }

  // The generated getNextToken's error path: how far the automaton read
  // decides the column, the "after prefix" and whether it saw EOF.
  lexicalError(begin) {
    const s = this.input;
    let read = 1; // the automaton always reads the first character
    if (this.state === DEFAULT) {
      OPEN_AT_EOF.lastIndex = begin;
      const m = OPEN_AT_EOF.exec(s);
      if (m && begin + m[0].length === s.length) read = m[0].length;
    }
    const end = begin + read; // FastCharStream: the column is an offset
    const curChar = s[end - 1];
    let line = 1;
    let column = end;
    let eof = false;
    let after;
    if (end >= s.length) { // reading one more character hits the end
      eof = true;
      after = read <= 1 ? '' : s.slice(begin, end);
      if (curChar === '\n' || curChar === '\r') { line++; column = 0; } else column++;
    } else {
      after = read <= 1 ? '' : s.slice(begin, end - 1);
    }
    return new TokenMgrError(`Lexical error at line ${line}, column ${column}.  Encountered: ` +
      (eof ? '<EOF>' : `'${addEscapes(curChar)}' (${curChar.charCodeAt(0)}),`) +
      (after.length === 0 ? '' : ` after prefix "${addEscapes(after)}"`) +
      (this.state === 0 ? '' : ` (in lexical state ${this.state})`));
  }
}

// ---------------------------------------------------------------------------
// Parser: QueryParser.java as JavaCC generates it, with its error machinery.

const bits = (...kinds) => new Set(kinds);
const LA1 = [
  bits(K.AND, K.OR), bits(K.AND, K.OR), bits(K.NOT, K.PLUS, K.MINUS), bits(K.NOT, K.PLUS, K.MINUS),
  null, null, null, bits(K.STAR, K.TERM), bits(K.CARAT), null, null, bits(K.FUZZY_SLOP), bits(K.CARAT),
  bits(K.CARAT, K.FUZZY_SLOP), bits(K.CARAT, K.FUZZY_SLOP), bits(K.RANGEIN_START, K.RANGEEX_START),
  bits(K.RANGE_TO, K.RANGE_QUOTED, K.RANGE_GOOP), bits(K.RANGE_TO, K.RANGE_QUOTED, K.RANGE_GOOP),
  bits(K.RANGEIN_END, K.RANGEEX_END), bits(K.CARAT), bits(K.FUZZY_SLOP), bits(K.CARAT),
  bits(K.CARAT, K.FUZZY_SLOP), bits(K.CARAT, K.FUZZY_SLOP), null,
];
const TERM_FIRST = [K.BAREOPER, K.STAR, K.QUOTED, K.TERM, K.PREFIXTERM, K.WILDTERM, K.REGEXPTERM,
  K.RANGEIN_START, K.RANGEEX_START, K.NUMBER];
LA1[24] = bits(...TERM_FIRST);
LA1[9] = bits(...TERM_FIRST, K.LPAREN);
LA1[10] = bits(K.BAREOPER, K.STAR, K.TERM, K.PREFIXTERM, K.WILDTERM, K.REGEXPTERM, K.NUMBER);
LA1[4] = bits(K.NOT, K.PLUS, K.MINUS, ...LA1[9]);
LA1[5] = bits(K.AND, K.OR, ...LA1[4]);
LA1[6] = LA1[5];

const DISALLOWED_POST_MULTI_TERM = bits(K.COLON, K.STAR, K.FUZZY_SLOP, K.CARAT, K.AND, K.OR);

const CONJ_NONE = 0;
const CONJ_AND = 1;
const CONJ_OR = 2;
const MOD_NONE = 0;
const MOD_NOT = 10;
const MOD_REQ = 11;

class LookaheadSuccess { }

class Parser {
  constructor(input, sem) {
    this.tm = new TokenManager(input);
    this.sem = sem;
    this.token = { kind: -1, image: '', beginColumn: 0, next: null };
    this.ntk = -1;
    this.gen = 0;
    this.la1 = new Array(25).fill(-1);
    this.rtns = [[], [], []].map(() => ({ gen: 0, first: null, arg: 0, next: null }));
    this.kind = -1;
    this.rescan = false;
    this.lookingAhead = false;
  }

  // --- JavaCC runtime ----------------------------------------------------
  ntkf() {
    if (this.token.next === null) this.token.next = this.tm.next();
    return (this.ntk = this.token.next.kind);
  }

  peek() { return this.ntk === -1 ? this.ntkf() : this.ntk; }

  consume(kind) {
    const old = this.token;
    if (old.next !== null) this.token = old.next;
    else this.token = old.next = this.tm.next();
    this.ntk = -1;
    if (this.token.kind === kind) {
      this.gen++;
      return this.token;
    }
    this.token = old;
    this.kind = kind;
    throw this.parseError();
  }

  // A switch's default: record the choice point, and fail if it must match.
  miss(i, fatal) {
    this.la1[i] = this.gen;
    if (fatal) {
      this.consume(-1);
    }
  }

  getToken(index) {
    let t = this.lookingAhead ? this.scanpos : this.token;
    for (let i = 0; i < index; i++) {
      if (t.next === null) t.next = this.tm.next();
      t = t.next;
    }
    return t;
  }

  scanToken(kind) {
    if (this.scanpos === this.lastpos) {
      this.la--;
      if (this.scanpos.next === null) this.scanpos.next = this.tm.next();
      this.lastpos = this.scanpos = this.scanpos.next;
    } else {
      this.scanpos = this.scanpos.next;
    }
    if (this.rescan) {
      let i = 0;
      let tok = this.token;
      while (tok !== null && tok !== this.scanpos) { i++; tok = tok.next; }
      if (tok !== null) this.addErrorToken(kind, i);
    }
    if (this.scanpos.kind !== kind) return true;
    if (this.la === 0 && this.scanpos === this.lastpos) throw new LookaheadSuccess();
    return false;
  }

  // jj_2_1 .. jj_2_3: LOOKAHEAD(2) on MultiTerm (1, 2) and on a field prefix (3)
  lookahead(index, xla) {
    this.la = xla;
    this.lastpos = this.scanpos = this.token;
    try {
      return !this.scan(index);
    } catch (e) {
      if (e instanceof LookaheadSuccess) return true;
      throw e;
    } finally {
      this.save(index, xla);
    }
  }

  // jj_3_1 / jj_3_2 (MultiTerm's start) and jj_3_3 (TERM ":" | "*" ":"); true = fails
  scan(index) {
    if (index < 2) {
      if (this.scanToken(K.TERM)) return true;
      this.lookingAhead = true;
      const semLA = this.getToken(1).kind === K.TERM && !DISALLOWED_POST_MULTI_TERM.has(this.getToken(2).kind);
      this.lookingAhead = false;
      if (!semLA) return true;
      if (this.scanToken(K.TERM)) return true;
      for (;;) {
        const xsp = this.scanpos;
        if (this.scanToken(K.TERM)) { this.scanpos = xsp; break; }
      }
      return false;
    }
    const xsp = this.scanpos;
    if (this.scanToken(K.TERM) || this.scanToken(K.COLON)) {
      this.scanpos = xsp;
      if (this.scanToken(K.STAR) || this.scanToken(K.COLON)) return true;
    }
    return false;
  }

  save(index, xla) {
    let p = this.rtns[index];
    while (p.gen > this.gen) {
      if (p.next === null) { p = p.next = { gen: 0, first: null, arg: 0, next: null }; break; }
      p = p.next;
    }
    p.gen = this.gen + xla - this.la;
    p.first = this.token;
    p.arg = xla;
  }

  addErrorToken(kind, pos) {
    if (pos >= 100) return;
    if (pos === this.endpos + 1) {
      this.lasttokens[this.endpos++] = kind;
    } else if (this.endpos !== 0) {
      const entry = this.lasttokens.slice(0, this.endpos);
      // JavaCC 7 adds the sequence only when it is already there (sic)
      if (this.expentries.some((old) => old.length === entry.length && old.every((k, i) => k === entry[i]))) {
        this.expentries.push(entry);
      }
      if (pos !== 0) this.lasttokens[(this.endpos = pos) - 1] = kind;
    }
  }

  parseError() {
    this.expentries = [];
    const la1tokens = new Array(33).fill(false);
    if (this.kind >= 0) {
      la1tokens[this.kind] = true;
      this.kind = -1;
    }
    for (let i = 0; i < 25; i++) {
      if (this.la1[i] === this.gen) for (const k of LA1[i]) la1tokens[k] = true;
    }
    la1tokens.forEach((on, k) => { if (on) this.expentries.push([k]); });
    this.endpos = 0;
    this.lasttokens = [];
    this.rescanTokens();
    this.addErrorToken(0, 0);
    return new ParseException(parseMessage(this.token, this.expentries));
  }

  rescanTokens() {
    this.rescan = true;
    for (let i = 0; i < 3; i++) {
      try {
        let p = this.rtns[i];
        do {
          if (p.gen > this.gen) {
            this.la = p.arg;
            this.lastpos = this.scanpos = p.first;
            this.scan(i);
          }
          p = p.next;
        } while (p !== null);
      } catch (e) {
        if (!(e instanceof LookaheadSuccess)) throw e;
      }
    }
    this.rescan = false;
  }

  // --- the grammar -------------------------------------------------------
  conjunction() {
    switch (this.peek()) {
      case K.AND: this.consume(K.AND); return CONJ_AND;
      case K.OR: this.consume(K.OR); return CONJ_OR;
      default: this.miss(1, false); return CONJ_NONE;
    }
  }

  modifiers() {
    switch (this.peek()) {
      case K.PLUS: this.consume(K.PLUS); return MOD_REQ;
      case K.MINUS: this.consume(K.MINUS); return MOD_NOT;
      case K.NOT: this.consume(K.NOT); return MOD_NOT;
      default: this.miss(3, false); return MOD_NONE;
    }
  }

  topLevelQuery(field) {
    const q = this.query(field);
    this.consume(K.EOF);
    return q;
  }

  query(field) {
    const clauses = [];
    let firstQuery = null;
    if (this.lookahead(0, 2)) {
      firstQuery = this.multiTerm(field, clauses);
    } else if (LA1[4].has(this.peek())) {
      const mods = this.modifiers();
      const q = this.clause(field);
      this.sem.addClause(clauses, CONJ_NONE, mods, q);
      if (mods === MOD_NONE) firstQuery = q;
    } else {
      this.miss(4, true);
    }
    for (;;) {
      if (!LA1[5].has(this.peek())) { this.miss(5, false); break; }
      if (this.lookahead(1, 2)) {
        this.multiTerm(field, clauses);
      } else {
        const conj = this.conjunction();
        const mods = this.modifiers();
        const q = this.clause(field);
        this.sem.addClause(clauses, conj, mods, q);
      }
    }
    if (clauses.length === 1 && firstQuery !== null) return firstQuery;
    return this.sem.booleanQuery(clauses);
  }

  clause(field) {
    let boost = null;
    let q;
    if (this.lookahead(2, 2)) {
      switch (this.peek()) {
        case K.TERM: {
          const t = this.consume(K.TERM);
          this.consume(K.COLON);
          field = this.sem.discardEscapeChar(t.image);
          break;
        }
        case K.STAR:
          this.consume(K.STAR);
          this.consume(K.COLON);
          field = '*';
          break;
        default: this.miss(7, true);
      }
    }
    const k = this.peek();
    if (TERM_FIRST.includes(k)) {
      q = this.term(field);
    } else if (k === K.LPAREN) {
      this.consume(K.LPAREN);
      q = this.query(field);
      this.consume(K.RPAREN);
      if (this.peek() === K.CARAT) {
        this.consume(K.CARAT);
        boost = this.consume(K.NUMBER);
      } else this.miss(8, false);
    } else {
      this.miss(9, true);
    }
    return this.sem.handleBoost(q, boost);
  }

  // [ "^" <NUMBER> [<FUZZY_SLOP>] | <FUZZY_SLOP> [ "^" <NUMBER> ] ] after a term
  boostAndSlop(i1, i2, i4) {
    let boost = null;
    let slop = null;
    const k = this.peek();
    if (k === K.CARAT || k === K.FUZZY_SLOP) {
      if (k === K.CARAT) {
        this.consume(K.CARAT);
        boost = this.consume(K.NUMBER);
        if (this.peek() === K.FUZZY_SLOP) slop = this.consume(K.FUZZY_SLOP);
        else this.miss(i1, false);
      } else {
        slop = this.consume(K.FUZZY_SLOP);
        if (this.peek() === K.CARAT) {
          this.consume(K.CARAT);
          boost = this.consume(K.NUMBER);
        } else this.miss(i2, false);
      }
    } else {
      this.miss(i4, false);
    }
    return { boost, slop };
  }

  term(field) {
    let q;
    let boost = null;
    const k = this.peek();
    if (LA1[10].has(k)) {
      const t = this.consume(k);
      const kind = { prefix: k === K.PREFIXTERM, wildcard: k === K.STAR || k === K.WILDTERM, regexp: k === K.REGEXPTERM };
      if (k === K.BAREOPER) t.image = t.image.slice(0, 1);
      const bs = this.boostAndSlop(11, 12, 14);
      boost = bs.boost;
      q = this.sem.handleBareTokenQuery(field, t, bs.slop, kind);
    } else if (k === K.RANGEIN_START || k === K.RANGEEX_START) {
      const startInc = k === K.RANGEIN_START;
      this.consume(k);
      const goop = (i) => {
        const g = this.peek();
        if (g === K.RANGE_GOOP || g === K.RANGE_QUOTED || g === K.RANGE_TO) return this.consume(g);
        return this.miss(i, true);
      };
      const goop1 = goop(16);
      this.consume(K.RANGE_TO);
      const goop2 = goop(17);
      const e = this.peek();
      let endInc = false;
      if (e === K.RANGEIN_END) { this.consume(e); endInc = true; } else if (e === K.RANGEEX_END) this.consume(e);
      else this.miss(18, true);
      if (this.peek() === K.CARAT) {
        this.consume(K.CARAT);
        boost = this.consume(K.NUMBER);
      } else this.miss(19, false);
      const part = (g) => (g.kind === K.RANGE_QUOTED ? this.sem.discardEscapeChar(g.image.slice(1, -1))
        : g.image === '*' ? null : this.sem.discardEscapeChar(g.image));
      q = this.sem.rangeQuery(field, part(goop1), part(goop2), startInc, endInc);
    } else if (k === K.QUOTED) {
      const t = this.consume(K.QUOTED);
      const bs = this.boostAndSlop(20, 21, 23);
      boost = bs.boost;
      q = this.sem.handleQuotedTerm(field, t, bs.slop);
    } else {
      this.miss(24, true);
    }
    return this.sem.handleBoost(q, boost);
  }

  multiTerm(field, clauses) {
    const text = this.consume(K.TERM);
    let image = text.image;
    if (!(this.getToken(1).kind === K.TERM && !DISALLOWED_POST_MULTI_TERM.has(this.getToken(2).kind))) {
      this.consume(-1);
    }
    for (;;) {
      const following = this.consume(K.TERM);
      image += ' ' + following.image;
      if (!(this.getToken(1).kind === K.TERM && !DISALLOWED_POST_MULTI_TERM.has(this.getToken(2).kind))) break;
    }
    const q = this.sem.fieldQuery(field, this.sem.discardEscapeChar(image), false);
    this.sem.addMultiTermClauses(clauses, q);
    return q;
  }
}

function parseMessage(current, expected) {
  let maxSize = 0;
  let exp = '';
  for (const seq of expected) {
    maxSize = Math.max(maxSize, seq.length);
    for (const k of seq) exp += TOKEN_IMAGE[k] + ' ';
    if (seq[seq.length - 1] !== 0) exp += '...';
    exp += '\n    ';
  }
  let ret = 'Encountered "';
  let tok = current.next;
  for (let i = 0; i < maxSize; i++) {
    if (i !== 0) ret += ' ';
    if (tok.kind === 0) {
      ret += TOKEN_IMAGE[0];
      break;
    }
    ret += ' ' + TOKEN_IMAGE[tok.kind] + ' "' + addEscapes(tok.image) + ' "';
    tok = tok.next;
  }
  ret += `" at line 1, column ${current.next.beginColumn}.\n`;
  if (expected.length === 1) ret += 'Was expecting:\n    ' + exp;
  else if (expected.length > 1) ret += 'Was expecting one of:\n    ' + exp;
  return ret;
}

// ---------------------------------------------------------------------------
// QueryParserBase: building the query.  Query trees:
//   {type:'bool', clauses:[{occur:'MUST'|'SHOULD'|'MUST_NOT', query}]}
//   {type:'term', field, text}  {type:'phrase', field, terms, slop}
//   {type:'wildcard'|'prefix'|'regexp', field, pattern}  {type:'fuzzy', field, text, maxEdits}
//   {type:'range', field, lower, upper, includeLower, includeUpper}
//   {type:'all'}  {type:'boost', query, boost}
// field null means every field of the index (MultiFieldQueryParser).

// java.lang.Float.parseFloat's accepted forms (decimal), or NaN when refused
function javaParseFloat(s) {
  const t = s.replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '');
  const m = /^([+-]?(?:NaN|Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))[fFdD]?$/.exec(t);
  if (!m) throw new Error('NumberFormatException');
  return Math.fround(Number(m[1]));
}

class Semantics {
  constructor({ analyzer, allowLeadingWildcard, fields, maxClauseCount }) {
    this.analyzer = analyzer;
    this.allowLeadingWildcard = allowLeadingWildcard;
    this.fields = fields;
    this.maxClauseCount = maxClauseCount;
    // How many clauses Lucene's own lists and boolean queries hold where the
    // trees here hold fewer (a run of words keeps each distinct term once)
    this.sizes = new WeakMap();
  }

  // BooleanQuery.Builder.add refuses the clause after maxClauseCount
  built(n) {
    if (n > this.maxClauseCount) throw new TooManyClauses(this.maxClauseCount);
  }

  // Clauses that addMultiTermClauses copies out of a run of words' query:
  // each word once per position (QueryBuilder.analyzeMultiBoolean); one
  // word alone over several fields is MultiFieldQueryParser's disjunction of
  // one clause per field
  size(q) {
    if (this.sizes.has(q)) return this.sizes.get(q);
    if (q.type === 'bool') return q.clauses.length;
    return q.field === null ? this.fields : 1;
  }

  discardEscapeChar(input) {
    let out = '';
    let escaped = false;
    let mult = 0;
    let cp = 0;
    for (const c of input.split('')) {
      if (mult > 0) {
        let v;
        if (c >= '0' && c <= '9') v = c.charCodeAt(0) - 48;
        else if (c >= 'a' && c <= 'f') v = c.charCodeAt(0) - 87;
        else if (c >= 'A' && c <= 'F') v = c.charCodeAt(0) - 55;
        else throw new ParseException(`Non-hex character in Unicode escape sequence: ${c}`);
        cp += v * mult;
        mult >>>= 4;
        if (mult === 0) { out += String.fromCharCode(cp); cp = 0; }
      } else if (escaped) {
        if (c === 'u') mult = 16 * 16 * 16; else out += c;
        escaped = false;
      } else if (c === '\\') escaped = true;
      else out += c;
    }
    if (mult > 0) throw new ParseException('Truncated unicode escape sequence.');
    if (escaped) throw new ParseException('Term can not end with escape character.');
    return out;
  }

  normalize(text) { return text.toLowerCase(); }

  addClause(clauses, conj, mods, q) {
    if (clauses.length > 0 && conj === CONJ_AND) {
      const c = clauses[clauses.length - 1];
      if (c.occur !== 'MUST_NOT') clauses[clauses.length - 1] = { occur: 'MUST', query: c.query };
    }
    if (q === null) return;
    this.sizes.set(clauses, (this.sizes.get(clauses) ?? clauses.length) + 1);
    const prohibited = mods === MOD_NOT;
    const required = mods === MOD_REQ || (conj === CONJ_AND && !prohibited);
    clauses.push({ occur: prohibited ? 'MUST_NOT' : required ? 'MUST' : 'SHOULD', query: q });
  }

  addMultiTermClauses(clauses, q) {
    if (q === null) return;
    this.sizes.set(clauses, (this.sizes.get(clauses) ?? clauses.length) + this.size(q));
    if (q.type === 'bool') for (const c of q.clauses) clauses.push({ occur: 'SHOULD', query: c.query });
    else clauses.push({ occur: 'SHOULD', query: q });
  }

  // getBooleanQuery: one BooleanQuery.Builder for the clause list
  booleanQuery(clauses) {
    if (clauses.length === 0) return null;
    this.built(this.sizes.get(clauses) ?? clauses.length);
    return { type: 'bool', clauses };
  }

  // getFieldQuery: the analyzer's terms; one is a term query, several are a
  // phrase when quoted, else a disjunction (each distinct term once: the
  // test index's scoring counts a term once per query, see cypher.mjs).
  fieldQuery(field, text, quoted, slop = 0) {
    const terms = this.analyzer(text);
    if (terms.length === 0) return null;
    if (terms.length === 1) return { type: 'term', field, text: terms[0] };
    if (quoted) return { type: 'phrase', field, terms, slop };
    // one builder per field with a clause per word (MultiFieldQueryParser
    // then regroups them per word: as many clauses again)
    this.built(terms.length);
    const q = { type: 'bool', clauses: [...new Set(terms)].map((t) => ({ occur: 'SHOULD', query: { type: 'term', field, text: t } })) };
    this.sizes.set(q, terms.length);
    return q;
  }

  handleBareTokenQuery(field, term, fuzzySlop, { prefix, wildcard, regexp }) {
    const termImage = this.discardEscapeChar(term.image);
    if (wildcard) return this.wildcardQuery(field, term.image);
    if (prefix) return this.prefixQuery(field, this.discardEscapeChar(term.image.slice(0, -1)));
    if (regexp) return { type: 'regexp', field, pattern: this.normalize(term.image.slice(1, -1)) };
    if (fuzzySlop) return this.handleBareFuzzy(field, fuzzySlop, termImage);
    return this.fieldQuery(field, termImage, false);
  }

  handleBareFuzzy(field, fuzzySlop, termImage) {
    let fms = 2; // FuzzyQuery.defaultMaxEdits
    try { fms = javaParseFloat(fuzzySlop.image.slice(1)); } catch { /* as Lucene: keep the default */ }
    if (fms < 0) throw new ParseException('Minimum similarity for a FuzzyQuery has to be between 0.0f and 1.0f !');
    if (fms >= 1 && fms !== Math.trunc(fms)) throw new ParseException('Fractional edit distances are not allowed!');
    const text = this.normalize(termImage);
    const len = [...text].length;
    // FuzzyQuery.floatToEdits
    const maxEdits = fms >= 1 ? Math.min(Math.trunc(fms), 2) : fms === 0 ? 0 : Math.min(Math.trunc((1 - fms) * len) || 0, 2);
    return { type: 'fuzzy', field, text, maxEdits };
  }

  handleQuotedTerm(field, term, fuzzySlop) {
    let s = 0;
    if (fuzzySlop) {
      try { s = Math.trunc(javaParseFloat(fuzzySlop.image.slice(1))) || 0; } catch { /* phraseSlop */ }
    }
    return this.fieldQuery(field, this.discardEscapeChar(term.image.slice(1, -1)), true, s);
  }

  handleBoost(q, boost) {
    if (boost === null || q === null) return q;
    let f = 1;
    try { f = javaParseFloat(boost.image); } catch { /* 1.0 */ }
    return { type: 'boost', query: q, boost: f };
  }

  wildcardQuery(field, termStr) {
    if (field === '*' && termStr === '*') return { type: 'all' };
    if (!this.allowLeadingWildcard && (termStr.startsWith('*') || termStr.startsWith('?'))) {
      throw new ParseException("'*' or '?' not allowed as first character in WildcardQuery");
    }
    // analyzeWildcard: normalise what lies between escapes and wildcards
    const pattern = termStr.replace(/(\\[\s\S])|([?*]+)|([^\\?*]+)/g, (m, esc, wild, text) => (text ? this.normalize(text) : m));
    return { type: 'wildcard', field, pattern };
  }

  prefixQuery(field, termStr) {
    if (!this.allowLeadingWildcard && termStr.startsWith('*')) {
      throw new ParseException("'*' not allowed as first character in PrefixQuery");
    }
    return { type: 'prefix', field, pattern: this.normalize(termStr) };
  }

  rangeQuery(field, lower, upper, includeLower, includeUpper) {
    return {
      type: 'range', field, includeLower, includeUpper,
      lower: lower === null ? null : this.normalize(lower),
      upper: upper === null ? null : this.normalize(upper),
    };
  }
}

/**
 * Parses a Lucene query as QueryParserBase.parse does; throws ParseException
 * ("Cannot parse '<query>': ...", cause = the inner ParseException or
 * TokenMgrError).  A query that analyses to nothing is an empty bool query.
 */
export function parse(query, {
  analyzer = (t) => t.toLowerCase().split(/\s+/).filter(Boolean), allowLeadingWildcard = false,
  fields = 1, maxClauseCount = MAX_CLAUSE_COUNT,
} = {}) {
  const sem = new Semantics({ analyzer, allowLeadingWildcard, fields, maxClauseCount });
  try {
    const q = new Parser(query, sem).topLevelQuery(null);
    return q ?? { type: 'bool', clauses: [] };
  } catch (e) {
    if (e instanceof TooManyClauses) {
      throw new ParseException(`Cannot parse '${query}': too many boolean clauses`, e);
    }
    if (!(e instanceof ParseException) && !(e instanceof TokenMgrError)) throw e;
    return throwWrapped(query, e);
  }
}

function throwWrapped(query, e) {
  throw new ParseException(`Cannot parse '${query}': ${e.message}`, e);
}

/** IndexSearcher's default maxClauseCount (Lucene 9; Neo4j 5 keeps it) */
export const MAX_CLAUSE_COUNT = 1024;

/**
 * The leaf clauses IndexSearcher.rewrite's visitor counts in a parsed query,
 * over `fields` default fields: BooleanQuery.rewrite first merges identical
 * clauses of one occur (boosts summed) and turns an empty boolean query into
 * MatchNoDocsQuery (a leaf); a term, phrase, wildcard, prefix, regexp, range
 * or fuzzy query without a field is one per field (MultiFieldQueryParser),
 * `*:*` is one; a boost adds none.
 */
export function nestedClauses(q, fields) {
  switch (q.type) {
    case 'bool': {
      if (q.clauses.length === 0) return 1;
      const seen = new Set();
      let n = 0;
      for (const c of q.clauses) {
        let inner = c.query;
        while (inner.type === 'boost') inner = inner.query;
        const key = c.occur + JSON.stringify(inner);
        if (seen.has(key)) continue;
        seen.add(key);
        n += nestedClauses(inner, fields);
      }
      return n;
    }
    case 'boost':
      return nestedClauses(q.query, fields);
    case 'all':
      return 1;
    default:
      return q.field === null ? fields : 1;
  }
}

/**
 * IndexSearcher.rewrite's check before a search: its visitor throws
 * TooManyNestedClauses on reaching a leaf when it has already counted more
 * than maxClauseCount, so 1025 leaves pass and 1026 fail.
 */
export function checkNestedClauses(q, { fields = 1, maxClauseCount = MAX_CLAUSE_COUNT } = {}) {
  if (nestedClauses(q, fields) > maxClauseCount + 1) throw new TooManyNestedClauses(maxClauseCount);
}

/** QueryParserBase.escape: a backslash before every character of the syntax. */
export function escape(s) {
  return s.replace(/[\\+\-!():^[\]"{}~*?|&/]/g, '\\$&');
}

/**
 * The question as plain words, as apex_router's $query_lucene parameter
 * carries it: escape(), then the first letter of each AND, OR and NOT word
 * escaped (the lexer would take them as operators), and "" (an empty phrase,
 * matching nothing) for a text that is all Lucene whitespace.
 */
export function escapeQueryText(s) {
  if ([...s].every((c) => WS.includes(c))) return '""';
  return escape(s).replace(/(?<![A-Za-z0-9])(AND|OR|NOT)(?![A-Za-z0-9])/g, '\\$1');
}

export const LUCENE_WHITESPACE = WS;
export const NOT_TERM_START_CHARS = NOT_TERM_START;
