#!/usr/bin/python3
"""bench/quality's measurement (issue 15 part 6): every question of the
evaluation set (test/fixtures/eval/questions.json, loaded by
test/sql/include/eval.sql into the database named by PGDATABASE) asked
through each configuration of apex_route; nDCG@10 and recall@10 per
question class and overall, printed as one Markdown table with the targets
and whether this run met them.

A configuration this build lacks (an argument apex_route does not take, a
setting or a source kind that does not exist) is reported as not available,
never as a failure.  Usage: bench/quality (which starts everything); this
script alone: quality.py [--results FILE] [--rerank-url URL]
"""
import argparse
import json
import math
import os
import re
import sys
from datetime import datetime, timezone

import psycopg2
import psycopg2.errors

SOURCES = ['eval_graph', 'eval_vectors', 'eval_facts', 'eval_memory', 'eval_sql']
STORE = {'eval_graph': 'Neo4j', 'eval_vectors': 'Qdrant', 'eval_facts': 'Graphiti',
         'eval_memory': 'Redis', 'eval_sql': 'local sql'}
CLASSES = ['relationship', 'topical', 'temporal', 'exact', 'mixed']
BEGIN, END = '<!-- bench/quality: begin -->', '<!-- bench/quality: end -->'


def ndcg(ranked, labels):
    dcg = sum((2 ** labels.get(i, 0) - 1) / math.log2(n + 2) for n, i in enumerate(ranked[:10]))
    ideal = sum((2 ** g - 1) / math.log2(n + 2) for n, g in enumerate(sorted(labels.values(), reverse=True)[:10]))
    return dcg / ideal


def recall(ranked, labels):
    return len(set(ranked[:10]) & set(labels)) / len(labels)


class Config:
    """One row: how to call apex_route, and the settings around the call."""

    def __init__(self, name, args, settings=(), kind='other'):
        self.name, self.args, self.settings, self.kind = name, args, list(settings), kind
        self.missing = None     # why not available
        self.warnings = 0       # calls that carried a WARNING (a source failed)
        self.errors = 0         # calls that failed (counted as finding nothing)
        self.scores = {}        # question id -> (ndcg, recall)
        self.lists = {}         # question id -> the ranked ids


def configs(all_sources):
    every = {'sources': all_sources}
    c = [Config(f'{s} ({STORE[s]}) alone', {'sources': [s]}, kind='single') for s in SOURCES]
    c.append(Config('all five, default call (RRF on main)', every, kind='fusion-default'))
    for f in ['rrf', 'min_max', 'dbsf']:
        c.append(Config(f'all five, fusion {f}', dict(every, fusion=f), kind='fusion'))
    c.append(Config('sources NULL, intent routing off', {'sources': None},
                    settings=[('apex_router.intent_routing', 'off')], kind='routing-off'))
    c.append(Config('sources NULL, intent routing on', {'sources': None},
                    settings=[('apex_router.intent_routing', 'on')], kind='intent'))
    for f in ['min_max', 'dbsf']:
        c.append(Config(f'sources NULL, intent routing on, fusion {f}', {'sources': None, 'fusion': f},
                        settings=[('apex_router.intent_routing', 'on')], kind='intent-fusion'))
    c.append(Config('all five, rrf, reranked', dict(every, reranker='eval_rerank'), kind='rerank'))
    c.append(Config('intent routing on, reranked', {'sources': None, 'reranker': 'eval_rerank'},
                    settings=[('apex_router.intent_routing', 'on')], kind='rerank'))
    return c


def why(e):
    """The first line of a server's error, without its severity."""
    line = e.pgerror.splitlines()[0] if e.pgerror else str(e).splitlines()[0]
    return re.sub(r'^[A-Z]+:\s+', '', line)


# the errors that mean "this build has no such thing", not "it failed"
ABSENT = (psycopg2.errors.UndefinedFunction, psycopg2.errors.UndefinedObject,
          psycopg2.errors.InvalidParameterValue, psycopg2.errors.InvalidName)


def call(cur, cfg, text):
    sql = 'SELECT id FROM apex_route(%s, k => 10' + ''.join(
        f', {n} => %s' + ('::text[]' if n == 'sources' else '') for n in cfg.args) + ') ORDER BY rank'
    cur.execute(sql, [text] + list(cfg.args.values()))
    return [r[0] for r in cur.fetchall()]


def run(conn, cfg, questions, labels, rerank_available):
    if cfg.kind == 'rerank' and rerank_available is not True:
        cfg.missing = rerank_available or 'no RERANK_PORT in test/lib.sh'
        return
    cur = conn.cursor()
    # settings: SET apex_router.intent_routing fails when the GUC is not
    # there ("apex_router" is a reserved prefix): not available
    try:
        for name, value in cfg.settings:
            cur.execute(f'SET {name} = {value}')
    except psycopg2.Error as e:
        if cfg.kind == 'routing-off':
            # no such setting: sources => NULL asks every source anyway
            conn.rollback()
        else:
            cfg.missing = why(e)
            conn.rollback()
            return
    try:
        for qid, cls, text in questions:
            del conn.notices[:]
            try:
                ids = call(cur, cfg, text)
            except ABSENT as e:
                cfg.missing = why(e)
                return
            except psycopg2.Error as e:
                cfg.errors += 1
                cfg.last_error = why(e)
                ids = []
            if any('WARNING' in n for n in conn.notices):
                cfg.warnings += 1
            cfg.lists[qid] = ids
            cfg.scores[qid] = (ndcg(ids, labels[qid]), recall(ids, labels[qid]))
    finally:
        for name, _ in cfg.settings:
            try:
                cur.execute(f'RESET {name}')
            except psycopg2.Error:
                pass


def mean(xs):
    return sum(xs) / len(xs) if xs else None


def summarize(cfg, questions):
    out = {}
    for metric in (0, 1):
        for cls in CLASSES + ['overall']:
            xs = [cfg.scores[q][metric] for q, c, _ in questions if q in cfg.scores and (cls == 'overall' or c == cls)]
            out[metric, cls] = mean(xs)
    return out


def table(cfgs, questions):
    counts = {c: sum(1 for _, k, _ in questions if k == c) for c in CLASSES}
    heads = [f'{c} ({counts[c]})' for c in CLASSES] + [f'overall ({len(questions)})']
    lines = ['| configuration | ' + ' | '.join(f'nDCG {h}' for h in heads) + ' | ' + ' | '.join(f'R@10 {h}' for h in heads) + ' |',
             '|---|' + '---:|' * (2 * len(heads))]
    sums = {}
    for cfg in cfgs:
        if cfg.missing:
            lines.append(f'| {cfg.name} | ' + ' | '.join(['n/a'] * 2 * len(heads)) + ' |')
            continue
        s = sums[cfg.name] = summarize(cfg, questions)
        cells = [f'{s[m, c]:.3f}' for m in (0, 1) for c in CLASSES + ['overall']]
        lines.append(f'| {cfg.name} | ' + ' | '.join(cells) + ' |')
    return lines, sums


def targets(cfgs, sums):
    singles = [c for c in cfgs if c.kind == 'single' and c.name in sums]
    lines = []
    best = {cls: max(sums[c.name][0, cls] for c in singles) for cls in CLASSES + ['overall']}
    fusions = [c for c in cfgs if c.kind == 'fusion']
    for f in fusions:
        if f.missing:
            lines.append(f'- {f.name} ≥ the best single source on each class: not available')
            continue
        short = [cls for cls in CLASSES if sums[f.name][0, cls] < best[cls]]
        verdict = 'met' if not short else 'NOT met (below on ' + ', '.join(
            f'{cls}: {sums[f.name][0, cls]:.3f} < {best[cls]:.3f}' for cls in short) + ')'
        lines.append(f'- {f.name} ≥ the best single source on each class: {verdict}')
    intent = next(c for c in cfgs if c.kind == 'intent')
    goal = 1.10 * best['overall']
    if intent.missing:
        lines.append(f'- intent-weighted fusion ≥ 1.10 × the best single source overall ({goal:.3f}): '
                     'not available')
    else:
        got = sums[intent.name][0, 'overall']
        lines.append(f'- intent-weighted fusion ≥ 1.10 × the best single source overall ({goal:.3f}): '
                     f'{got:.3f}, {"met" if got >= goal else "NOT met"}')
    for f in [c for c in cfgs if c.kind == 'intent-fusion' and c.name in sums]:
        short = [cls for cls in CLASSES if sums[f.name][0, cls] < best[cls]]
        lines.append(f'- (for comparison) {f.name} ≥ the best single source on each class: '
                     + ('yes' if not short else 'no, below on ' + ', '.join(short))
                     + f'; overall {sums[f.name][0, "overall"]:.3f}')
    default = next(c for c in cfgs if c.kind == 'fusion-default')
    if default.name in sums:
        short = [cls for cls in CLASSES if sums[default.name][0, cls] < best[cls]]
        lines.append(f'- (for comparison) the default call ≥ the best single source on each class: '
                     + ('yes' if not short else 'no, below on ' + ', '.join(short)))
    return lines


# the weights the ceiling tries for the class's best source (1000: the most
# a weight may be)
CEILING_WEIGHTS = [2, 5, 10, 100, 1000]


def ceiling(conn, cfgs, sums, questions, labels):
    """How far weighting alone can take each fusion method on each class:
    the five sources fused with the class's best single source weighted W
    (the weights argument; the others 1), for each W in CEILING_WEIGHTS, on
    that class's questions.  If even the best W stays below the single
    source, no weights (so no intent rule that only weights sources) can
    make that method reach it on this set: the other sources' items reorder
    the best source's list, and only asking it alone keeps it."""
    singles = [c for c in cfgs if c.kind == 'single' and c.name in sums]
    if not singles:
        return []
    cur = conn.cursor()
    lines = ['| class | best single source | ' + ' | '.join(
        f'{f}: best W → nDCG' for f in ('rrf', 'min_max', 'dbsf')) + ' |', '|---|---|---|---|---|']
    for cls in CLASSES:
        best = max(singles, key=lambda c: sums[c.name][0, cls])
        source = best.args['sources'][0]
        cells = []
        qs = [(q, t) for q, c, t in questions if c == cls]
        for f in ('rrf', 'min_max', 'dbsf'):
            got = []
            for w in CEILING_WEIGHTS:
                cfg = Config('ceiling', {'sources': SOURCES, 'fusion': f,
                                         'weights': json.dumps({source: w})})
                try:
                    vals = [ndcg(call(cur, cfg, t), labels[q]) for q, t in qs]
                except psycopg2.Error as e:
                    return [f'(not available: {why(e)})']
                got.append((mean(vals), w))
            top, w = max(got)
            mark = '' if top >= sums[best.name][0, cls] else ' (below)'
            cells.append(f'{w} → {top:.3f}{mark}')
        lines.append(f'| {cls} | {source} {sums[best.name][0, cls]:.3f} | ' + ' | '.join(cells) + ' |')
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--results', help='replace (or append) this table in FILE (bench/RESULTS.md)')
    ap.add_argument('--rerank-url', default=os.environ.get('BENCH_RERANK_URL'),
                    help='the reranker test server\'s base URL (default: http://127.0.0.1:$RERANK_PORT)')
    ap.add_argument('--label', default='', help='what was measured (printed above the table)')
    a = ap.parse_args()
    conn = psycopg2.connect('')
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute('SELECT id, cls, text FROM eval_questions ORDER BY id')
    questions = cur.fetchall()
    cur.execute('SELECT question, item, grade FROM eval_labels')
    labels = {}
    for q, item, g in cur.fetchall():
        labels.setdefault(q, {})[item] = g
    cur.execute("SELECT count(*) FROM eval_items")
    nrecords = cur.fetchone()[0]

    # the reranker: a source of kind reranker, when this build has the kind
    # and test/lib.sh a port for its test server
    rerank = None
    # (Cohere's format: <url>/v2/rerank, a model required; the test
    # server's key from RERANK_API_KEY, test/lib.sh)
    url = a.rerank_url or (os.environ.get('RERANK_PORT') and f"http://127.0.0.1:{os.environ['RERANK_PORT']}")
    if url:
        try:
            cur.execute('DROP SERVER IF EXISTS eval_rerank CASCADE')
            cur.execute("CREATE SERVER eval_rerank FOREIGN DATA WRAPPER apex_router "
                        "OPTIONS (kind 'reranker', url %s, format 'cohere', model 'rerank-v3.5')", [url])
            cur.execute("CREATE USER MAPPING FOR PUBLIC SERVER eval_rerank OPTIONS (api_key %s)",
                        [os.environ.get('RERANK_API_KEY', 'rerank-test-key')])
            rerank = True
        except psycopg2.Error as e:
            rerank = why(e)     # no such kind (or option) in this build

    cfgs = configs(SOURCES)
    for cfg in cfgs:
        run(conn, cfg, questions, labels, rerank)
    lines, sums = table(cfgs, questions)
    if not any(c.kind == 'single' and c.name in sums for c in cfgs):
        sys.exit('no single-source configuration ran: is the evaluation set loaded?')
    when = datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    out = [f'## Retrieval quality: `bench/quality` ({a.label or "this build"}, {when})', '',
           f'{len(questions)} questions of test/fixtures/eval ({sum(map(len, labels.values()))} graded items), '
           f'k = 10; nDCG@10 (graded gain 2^g - 1, log2 discount, ideal from the labels) '
           f'and recall@10 (relevant: grade ≥ 1), means per class. '
           f'{nrecords} records in the local sql store. n/a: this build lacks the configuration.', '']
    out += lines + ['', 'Targets (issue 15 part 6), on nDCG@10:', ''] + targets(cfgs, sums)
    out += ['', "Weighting's ceiling: the five fused with the class's best single source "
            f"weighted W (weights argument; W in {CEILING_WEIGHTS}, the best W shown), on that class's "
            'questions:', ''] + ceiling(conn, cfgs, sums, questions, labels)
    notes = [f'- {c.name}: {c.missing}' for c in cfgs if c.missing]
    warned = [f'- {c.name}: {c.warnings} of {len(questions)} calls had a WARNING (a source failed)'
              for c in cfgs if c.warnings]
    if notes:
        out += ['', 'Not available in this build:', ''] + notes
    warned += [f'- {c.name}: {c.errors} of {len(questions)} calls failed (counted as finding nothing; '
               f'the last: {c.last_error})' for c in cfgs if c.errors]
    # a method that answers exactly as RRF does on every question is most
    # likely not implemented (an argument taken and ignored)
    rrf = next(c for c in cfgs if c.kind == 'fusion-default')
    warned += [f'- {c.name}: the same ranked lists as the default call for every question '
               f'(is the method implemented in this build?)'
               for c in cfgs if c.kind == 'fusion' and not c.missing and c.name != 'all five, fusion rrf'
               and c.lists == rrf.lists]
    if warned:
        out += ['', 'Warnings:', ''] + warned
    text = '\n'.join(out) + '\n'
    print(text)
    if a.results:
        block = f'{BEGIN}\n{text}{END}\n'
        try:
            old = open(a.results).read()
        except FileNotFoundError:
            old = ''
        if BEGIN in old and END in old:
            new = re.sub(re.escape(BEGIN) + r'.*?' + re.escape(END) + r'\n?', lambda m: block, old, flags=re.S)
        else:
            new = old + ('\n' if old and not old.endswith('\n\n') else '') + block
        with open(a.results, 'w') as f:
            f.write(new)
        print(f'(written to {a.results})', file=sys.stderr)


if __name__ == '__main__':
    main()
