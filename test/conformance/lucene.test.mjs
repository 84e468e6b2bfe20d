// Lucene's classic query parser as the test Neo4j runs it (servers/lucene.mjs):
// the grammar, Lucene's own error messages, QueryParser.escape, and what the
// Neo4j server answers for a query Lucene refuses.
// issue 11 item 1; origins: langchain-ai/langchain-neo4j#5, neo4j-labs/llm-graph-builder#1018,
// SeedCompany/cord-api-v3#2050, neo4j/neo4j-browser#941, getzep/graphiti#775 (user text
// parsed as Lucene syntax by db.index.fulltext.queryNodes)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basic, startServers } from './harness.mjs';
import { loadCorpus, notesPath } from '../servers/corpus.mjs';
import { tokenize } from '../servers/embed.mjs';
import { ParseException, TooManyNestedClauses, checkNestedClauses, escape, escapeQueryText, nestedClauses, parse } from '../servers/lucene.mjs';

const PE = 'org.apache.lucene.queryparser.classic.ParseException';
const TME = 'org.apache.lucene.queryparser.classic.TokenMgrError';
const NEO4J = { analyzer: tokenize, allowLeadingWildcard: true }; // as Neo4j's FulltextIndexReader
const LUCENE = { analyzer: tokenize }; // QueryParser's defaults

/** The ParseException parse() throws: [its message, its cause's class, the cause's message] */
function failure(q, opts = LUCENE) {
  try {
    parse(q, opts);
  } catch (e) {
    assert.ok(e instanceof ParseException, `${q}: ${e}`);
    return [e.message, (e.cause ?? e).javaClass, (e.cause ?? e).message];
  }
  assert.fail(`${JSON.stringify(q)} parsed`);
}

const expecting = (...images) => `Was expecting one of:\n${images.map((i) => `    ${i} ...\n`).join('')}    `;
const QUERY_START = ['<NOT>', '"+"', '"-"', '<BAREOPER>', '"("', '"*"', '<QUOTED>', '<TERM>', '<PREFIXTERM>',
  '<WILDTERM>', '<REGEXPTERM>', '"["', '"{"', '<NUMBER>', '<TERM>'];

describe('issue 11 item 1: the three reported questions, raw and escaped', () => {
  test('"C++ (draft": the open parenthesis is a ParseException at end of input', () => {
    const [msg, cls, cause] = failure('C++ (draft');
    assert.equal(cls, PE);
    assert.equal(cause, 'Encountered "<EOF>" at line 1, column 10.\n' + expecting('<AND>', '<OR>', '<NOT>', '"+"', '"-"',
      '<BAREOPER>', '"("', '")"', '"*"', '"^"', '<QUOTED>', '<TERM>', '<FUZZY_SLOP>', '<PREFIXTERM>', '<WILDTERM>',
      '<REGEXPTERM>', '"["', '"{"', '<NUMBER>'));
    assert.equal(msg, `Cannot parse 'C++ (draft': ${cause}`);
  });

  test('notes on the "Q3 plan: the open phrase is a lexical error, wrapped in a ParseException', () => {
    const [msg, cls, cause] = failure('notes on the "Q3 plan');
    assert.equal(cls, TME);
    assert.equal(cause, 'Lexical error at line 1, column 22.  Encountered: <EOF> after prefix "\\"Q3 plan" (in lexical state 2)');
    assert.equal(msg, `Cannot parse 'notes on the "Q3 plan': ${cause}`);
  });

  test('"* what changed": Lucene refuses a leading wildcard; Neo4j allows it, and * matches every document', () => {
    const [msg, cls, cause] = failure('* what changed');
    assert.equal(cls, PE);
    assert.equal(cause, "'*' or '?' not allowed as first character in WildcardQuery");
    assert.equal(msg, `Cannot parse '* what changed': ${cause}`);
    // FulltextIndexReader.parseFulltextQuery: setAllowLeadingWildcard(true)
    const q = parse('* what changed', NEO4J);
    assert.deepEqual(q.clauses[0], { occur: 'SHOULD', query: { type: 'wildcard', field: null, pattern: '*' } });
  });

  test('escaped, each is plain words', () => {
    for (const [raw, esc] of [['C++ (draft', 'C\\+\\+ \\(draft'], ['notes on the "Q3 plan', 'notes on the \\"Q3 plan'],
      ['* what changed', '\\* what changed']]) {
      assert.equal(escapeQueryText(raw), esc);
      for (const opts of [LUCENE, NEO4J]) assert.deepEqual(terms(parse(esc, opts)), new Set(tokenize(raw)));
    }
  });
});

// The terms of a query made only of term queries (what an escaped text gives)
function terms(q) {
  if (q.type === 'term') return new Set([q.text]);
  assert.equal(q.type, 'bool');
  const out = new Set();
  for (const c of q.clauses) {
    assert.equal(c.occur, 'SHOULD');
    for (const t of terms(c.query)) out.add(t);
  }
  return out;
}

describe('error messages seen from real Lucene/Neo4j', () => {
  test('CodeGraphContext/CodeGraphContext#23: "TxInput(" (Neo4j 5, <TERM> listed twice by JavaCC)', () => {
    assert.equal(failure('TxInput(')[2], 'Encountered "<EOF>" at line 1, column 8.\n' + expecting(...QUERY_START));
  });

  test('langchain-ai/langchain-neo4j#5: "/b testing" is an open regular expression', () => {
    assert.deepEqual(failure('/b testing').slice(1), [TME,
      'Lexical error at line 1, column 11.  Encountered: <EOF> after prefix "/b testing" (in lexical state 2)']);
  });

  test("orientechnologies/orientdb-lucene#31: '' expects a clause at column 0", () => {
    assert.equal(failure('')[2], 'Encountered "<EOF>" at line 1, column 0.\n' + expecting(...QUERY_START));
  });

  test('a token where none fits: Encountered " <kind> "image "" and the offset of its start', () => {
    assert.match(failure('(a))')[2], /^Encountered " "\)" "\) "" at line 1, column 3\.\nWas expecting one of:\n {4}<EOF> \n {4}<AND> \.\.\./);
    assert.match(failure('a && || b')[2], /^Encountered " <OR> "\|\| "" at line 1, column 5\./);
    assert.equal(failure('foo^')[2], 'Encountered "<EOF>" at line 1, column 4.\nWas expecting:\n    <NUMBER> ...\n    ');
    assert.equal(failure('[a TO')[2], 'Encountered "<EOF>" at line 1, column 5.\n' + expecting('"TO"', '<RANGE_QUOTED>', '<RANGE_GOOP>'));
    assert.match(failure('rock AND')[2], /^Encountered "<EOF>" at line 1, column 8\./);
    assert.match(failure('NOT')[2], /^Encountered "<EOF>" at line 1, column 3\.\nWas expecting one of:\n {4}<BAREOPER> \.\.\./);
    assert.match(failure('name:')[2], /^Encountered "<EOF>" at line 1, column 5\./);
  });

  test('lexical errors: the state (DEFAULT = 2, Boost = 0 unnamed), the character, the end of input', () => {
    assert.equal(failure('foo] bar')[2], "Lexical error at line 1, column 4.  Encountered: ']' (93), (in lexical state 2)");
    // JavaCC reads one character past the bad one: at the end that is <EOF>
    assert.equal(failure('foo]')[2], 'Lexical error at line 1, column 5.  Encountered: <EOF> (in lexical state 2)');
    assert.equal(failure('a^x b')[2], "Lexical error at line 1, column 3.  Encountered: 'x' (120),");
    assert.equal(failure('foo\\')[2], 'Lexical error at line 1, column 5.  Encountered: <EOF> (in lexical state 2)');
    assert.equal(failure('"a\nb')[2], 'Lexical error at line 1, column 5.  Encountered: <EOF> after prefix "\\"a\\nb" (in lexical state 2)');
    assert.equal(failure('"ab\n')[2], 'Lexical error at line 2, column 0.  Encountered: <EOF> after prefix "\\"ab\\n" (in lexical state 2)');
  });

  test("QueryParserBase's own ParseExceptions", () => {
    assert.equal(failure('C:\\users')[2], 'Non-hex character in Unicode escape sequence: s');
    assert.equal(failure('x\\u00')[2], 'Truncated unicode escape sequence.');
    assert.equal(failure('a~1.5')[2], 'Fractional edit distances are not allowed!');
    assert.equal(failure('a~-1')[2], 'Minimum similarity for a FuzzyQuery has to be between 0.0f and 1.0f !');
    assert.equal(failure('?ab')[2], "'*' or '?' not allowed as first character in WildcardQuery");
    assert.equal(failure('\\*ab*')[2], "'*' not allowed as first character in PrefixQuery");
    assert.doesNotThrow(() => parse('\\*ab*', NEO4J));
  });
});

describe('the grammar', () => {
  const p = (q) => parse(q, NEO4J);
  const term = (text, field = null) => ({ type: 'term', field, text });
  const should = (query) => ({ occur: 'SHOULD', query });

  test('words: one run of plain words is analysed together (stopwords gone)', () => {
    assert.deepEqual(p('roadmap'), term('roadmap'));
    assert.deepEqual(p('the roadmap, billing'), { type: 'bool', clauses: [should(term('roadmap')), should(term('billing'))] });
    assert.deepEqual(p('C++'), term('c')); // one token: "+" is a term character after the first
    assert.deepEqual(p('the'), { type: 'bool', clauses: [] });
  });

  test('phrases, slop, boosts', () => {
    assert.deepEqual(p('"sarah roadmap"~2^3'), { type: 'boost', boost: 3, query: { type: 'phrase', field: null, terms: ['sarah', 'roadmap'], slop: 2 } });
    assert.deepEqual(p('"sarah"'), term('sarah'));
    assert.deepEqual(p('"\\"quoted\\""'), term('quoted'));
  });

  test('wildcards, prefixes, fuzzy terms, regular expressions, ranges, match-all', () => {
    assert.deepEqual(p('Ro?dm*p'), { type: 'wildcard', field: null, pattern: 'ro?dm*p' });
    assert.deepEqual(p('Road*'), { type: 'prefix', field: null, pattern: 'road' });
    assert.deepEqual(p('roadmep~'), { type: 'fuzzy', field: null, text: 'roadmep', maxEdits: 2 });
    assert.deepEqual(p('roadmep~1'), { type: 'fuzzy', field: null, text: 'roadmep', maxEdits: 1 });
    assert.deepEqual(p('roadmep~0.8'), { type: 'fuzzy', field: null, text: 'roadmep', maxEdits: 1 });
    assert.deepEqual(p('/ro.*p/'), { type: 'regexp', field: null, pattern: 'ro.*p' });
    assert.deepEqual(p('[a TO "m z"}'), { type: 'range', field: null, lower: 'a', upper: 'm z', includeLower: true, includeUpper: false });
    assert.deepEqual(p('{* TO m]'), { type: 'range', field: null, lower: null, upper: 'm', includeLower: false, includeUpper: true });
    assert.deepEqual(p('*:*'), { type: 'all' });
  });

  test('operators: + - ! NOT AND && OR ||, grouping, fields, escapes', () => {
    const occ = (q) => p(q).clauses.map((c) => c.occur).join(' ');
    assert.equal(occ('+roadmap -billing !latency'), 'MUST MUST_NOT MUST_NOT');
    assert.equal(occ('roadmap AND billing'), 'MUST MUST');
    assert.equal(occ('roadmap && billing || latency'), 'MUST MUST SHOULD');
    assert.equal(occ('roadmap NOT billing'), 'SHOULD MUST_NOT');
    assert.equal(occ('roadmap + billing'), 'SHOULD SHOULD'); // "+ " is a bare operator: a term the analyzer drops
    assert.deepEqual(p('name:(roadmap billing)^2'), { type: 'boost', boost: 2, query: { type: 'bool', clauses: [should(term('roadmap', 'name')), should(term('billing', 'name'))] } });
    assert.deepEqual(p('name:roadmap'), term('roadmap', 'name'));
    assert.deepEqual(p('\\u0052oadmap'), term('roadmap'));
    assert.deepEqual(p('ANDROID and'), term('android'));
  });
});

// issue 11 review: the clause limit; origin: OpenSPG/KAG#376 (TooManyNestedClauses
// from queryNodes), OpenSPG/KAG#465 (TooManyClauses from queryNodes).  Sources read
// (apache/lucene, 9.x): QueryParserBase.parse catches IndexSearcher.TooManyClauses and
// throws ParseException("Cannot parse '<q>': too many boolean clauses") with it as the
// cause; BooleanQuery.Builder.add throws TooManyClauses ("maxClauseCount is set to
// 1024") for a clause beyond maxClauseCount (a stack trace quoted in public code shows
// it reached from QueryBuilder.add while parsing); IndexSearcher.rewrite visits the
// rewritten query with getNumClausesCheckVisitor, which throws TooManyNestedClauses
// ("Query contains too many nested clauses; maxClauseCount is set to 1024") when it
// meets a leaf after counting more than maxClauseCount; BooleanQuery.rewrite merges
// identical SHOULD clauses first.
const TMC = 'org.apache.lucene.search.IndexSearcher$TooManyClauses';
const TMNC = 'org.apache.lucene.search.IndexSearcher$TooManyNestedClauses';
const words = (n, prefix = 'w') => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`).join(' ');

describe('issue 11 review: the clause limit (maxClauseCount 1024)', () => {
  const TWO = { ...NEO4J, fields: 2 }; // an index over two properties, as note_text

  test('while parsing: a boolean query of 1025 clauses is "too many boolean clauses"', () => {
    assert.doesNotThrow(() => parse(words(1024), NEO4J));
    const [msg, cls, cause] = failure(words(1025), NEO4J);
    assert.equal(msg, `Cannot parse '${words(1025)}': too many boolean clauses`);
    assert.equal(cls, TMC);
    assert.equal(cause, 'maxClauseCount is set to 1024');
    // operators make clauses too, and a repeated word is a clause per position
    assert.equal(failure(words(1025).replace(/(^| )/g, '$1+'), NEO4J)[1], TMC);
    assert.equal(failure(Array(1025).fill('deploy').join(' '), NEO4J)[1], TMC);
    // the limit is per boolean query: two groups of 600 parse
    assert.doesNotThrow(() => parse(`(${words(600)}) (${words(600, 'v')})`, NEO4J));
  });

  test('at search time: more than 1025 leaf clauses in the whole query, every field counted', () => {
    assert.equal(nestedClauses(parse(words(512), TWO), 2), 1024);
    assert.doesNotThrow(() => checkNestedClauses(parse(words(512), TWO), { fields: 2 }));
    assert.throws(() => checkNestedClauses(parse(words(513), TWO), { fields: 2 }), (e) => e instanceof TooManyNestedClauses &&
      e.javaClass === TMNC && e.message === 'Query contains too many nested clauses; maxClauseCount is set to 1024');
    // the visitor counts before it checks: 1025 leaves pass, 1026 fail
    const one = { ...NEO4J, fields: 1 };
    assert.doesNotThrow(() => checkNestedClauses(parse(`(${words(600)}) (${words(425, 'v')})`, one)));
    assert.throws(() => checkNestedClauses(parse(`(${words(600)}) (${words(426, 'v')})`, one)), TooManyNestedClauses);
    // identical clauses are merged by the rewrite before the count
    assert.equal(nestedClauses(parse(Array(1000).fill('deploy').join(' '), TWO), 2), 2);
  });
});

describe('escape', () => {
  test('QueryParser.escape: a backslash before each of \\ + - ! ( ) : ^ [ ] " { } ~ * ? | & /', () => {
    assert.equal(escape('\\+-!():^[]"{}~*?|&/ a.b,c'), '\\\\\\+\\-\\!\\(\\)\\:\\^\\[\\]\\"\\{\\}\\~\\*\\?\\|\\&\\/ a.b,c');
  });

  test('keywords: AND, OR and NOT words get their first letter escaped; blank text is an empty phrase', () => {
    assert.equal(escapeQueryText('NOT this OR that AND ANDROID and'), '\\NOT this \\OR that \\AND ANDROID and');
    assert.equal(escapeQueryText('x.AND'), 'x.\\AND'); // harmless: inside a term the backslash is dropped
    assert.equal(escapeQueryText(' \u3000\t'), '""');
    assert.deepEqual(parse('""', NEO4J), { type: 'bool', clauses: [] });
  });

  test('any text, escaped, parses to its own words (random texts from the syntax characters)', () => {
    const pieces = ['AND', 'OR', 'NOT', '&&', '||', 'TO', 'roadmap', 'C++', 'x', '\\u', '\\', '"', "'", '*', '?', '~2', '^3',
      '(', ')', '[', ']', '{', '}', ':', '/', '!', '-', '+', ' ', ' ', '\u3000', '\t', '\n', 'é', '😀'];
    let seed = 11;
    const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    for (let i = 0; i < 3000; i++) {
      let text = '';
      for (let j = 1 + rnd(8); j > 0; j--) text += pieces[rnd(pieces.length)];
      const esc = escapeQueryText(text);
      let q;
      assert.doesNotThrow(() => { q = parse(esc, LUCENE); }, `${JSON.stringify(text)} -> ${JSON.stringify(esc)}`);
      assert.deepEqual(terms(q), new Set(tokenize(text)), JSON.stringify(text));
    }
  });
});

describe('the test Neo4j answers a query Lucene refuses as Neo4j 5 does', () => {
  let srv;
  before(async () => { srv = await startServers({ NEO4J_AUTH: 'neo4j:s3cret' }); });
  after(async () => { await srv?.stop(); });
  const FT = 'CALL db.index.fulltext.queryNodes("entity_text", $query) YIELD node, score RETURN node.uid AS id, score';
  const post = (path, body) => fetch(`${srv.neo4j}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic('neo4j', 's3cret') },
    body: JSON.stringify(body),
  });
  const call = (query, index = 'entity_text') => post('/db/neo4j/tx/commit',
    { statements: [{ statement: FT.replace('"entity_text"', '$index'), parameters: { query, index } }] });

  test('tx/commit: 200, no results, ProcedureCallFailed naming the root cause', async () => {
    for (const [q, root] of [['C++ (draft', `${PE}: Encountered "<EOF>" at line 1, column 10.\n`],
      ['notes on the "Q3 plan', `${TME}: Lexical error at line 1, column 22.`]]) {
      const r = await call(q);
      assert.equal(r.status, 200);
      const j = await r.json();
      assert.deepEqual(j.results, []);
      assert.equal(j.errors.length, 1);
      assert.equal(j.errors[0].code, 'Neo.ClientError.Procedure.ProcedureCallFailed');
      assert.ok(j.errors[0].message.startsWith(`Failed to invoke procedure \`db.index.fulltext.queryNodes\`: Caused by: ${root}`), j.errors[0].message);
    }
  });

  test('query/v2: 400 with the same error', async () => {
    const r = await post('/db/neo4j/query/v2', { statement: FT, parameters: { query: 'C++ (draft' } });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).errors[0].code, 'Neo.ClientError.Procedure.ProcedureCallFailed');
  });

  test('"* what changed" is no error: it matches every node, the escaped form only the words', async () => {
    const all = (await (await call('* what changed', 'note_text')).json()).results[0].data;
    assert.equal(all.length, loadCorpus(notesPath()).length);
    const words = (await (await call(escapeQueryText('* what changed'), 'note_text')).json()).results[0].data;
    assert.deepEqual(words.map((d) => d.row[0]).sort(), ['note-q3-plan', 'note-release-24']);
    assert.deepEqual(all.slice(0, words.length).map((d) => d.row[0]), words.map((d) => d.row[0]));
  });

  test('the notes index answers the escaped issue cases with the notes they name', async () => {
    const first = async (q) => (await (await call(escapeQueryText(q), 'note_text')).json()).results[0].data[0].row[0];
    assert.equal(await first('C++ (draft'), 'note-cpp-draft');
    assert.equal(await first('notes on the "Q3 plan'), 'note-q3-plan');
  });

  // issue 11 review: the clause limit; origin: OpenSPG/KAG#376, OpenSPG/KAG#465 (the
  // HTTP bodies quoted there are the messages below)
  test('too many clauses: ProcedureCallFailed naming TooManyClauses or TooManyNestedClauses', async () => {
    const fails = async (q) => (await (await call(escapeQueryText(q), 'note_text')).json()).errors[0];
    const parsing = await fails(words(2000));
    assert.equal(parsing.code, 'Neo.ClientError.Procedure.ProcedureCallFailed');
    assert.equal(parsing.message, `Failed to invoke procedure \`db.index.fulltext.queryNodes\`: Caused by: ${TMC}: maxClauseCount is set to 1024`);
    const nested = await fails(words(600)); // note_text has two properties: 1200 leaves
    assert.equal(nested.message, `Failed to invoke procedure \`db.index.fulltext.queryNodes\`: Caused by: ${TMNC}: ` +
      'Query contains too many nested clauses; maxClauseCount is set to 1024');
    const r = await (await call(escapeQueryText(`deploy ${words(511)}`), 'note_text')).json();
    assert.deepEqual(r.errors, []);
    assert.ok(r.results[0].data.length > 0);
    const q = await post('/db/neo4j/query/v2', { statement: FT, parameters: { query: words(2000) } });
    assert.equal(q.status, 400);
    assert.match((await q.json()).errors[0].message, /Caused by: org\.apache\.lucene\.search\.IndexSearcher\$TooManyClauses: /);
  });

  test('operators change what matches: AND, NOT, a field, a phrase', async () => {
    const ids = async (q) => new Set((await (await call(q)).json()).results[0].data.map((d) => d.row[0]));
    const corpus = loadCorpus();
    const has = (c, w) => tokenize(`${c.title} ${c.text}`).includes(w);
    const [a, b] = ['roadmap', 'billing'];
    assert.deepEqual(await ids(`${a} AND ${b}`), new Set(corpus.filter((c) => has(c, a) && has(c, b)).map((c) => c.id)));
    assert.deepEqual(await ids(`${a} -${b}`), new Set(corpus.filter((c) => has(c, a) && !has(c, b)).map((c) => c.id)));
    assert.deepEqual(await ids(`name:${a}`), new Set(corpus.filter((c) => tokenize(c.title).includes(a)).map((c) => c.id)));
    const phrase = corpus.filter((c) => /\broadmap\b/i.test(c.text))[0];
    const words = tokenize(phrase.text);
    const two = words.slice(words.indexOf('roadmap'), words.indexOf('roadmap') + 2);
    assert.ok((await ids(`"${two.join(' ')}"`)).has(phrase.id));
  });
});
