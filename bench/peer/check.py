"""Check the Python peer against apex_route, then load it (bench/peer/check.sh).

  compare  for each question, apex_route(q, k => K, sources => SOURCES)'s rows
           (over asyncpg, libpq's PG* environment) against the peer's GET /route:
           ids in order, found_in, scores; and the peer's POST /route_many for all
           the questions against its single answers.  Exit 1 on a difference.
  load     single-call latency (sequential GET /route), then rounds of N
           concurrent GET /route (one connection each, as N sessions would),
           then one /route_many of N questions.  Every answer is checked: HTTP
           200, no failed source, rows present.
  failing  with --expect-failed: the peer started with broken sources answers
           with the others' rows and names the broken ones, within the deadline.

Run with /usr/bin/python3 (Debian's httpx and asyncpg).
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time

import asyncpg
import httpx

QUESTIONS = [
    "Sarah roadmap",
    "billing migration",
    "billing cutover",
    "Sarah roadmap billing",
    "memory panel",
    "latency budget",
    "embedder change",
    "vendor contract",
    "what did we decide about the embedding model?",
    "NOT deploy",
    "C++ (draft",
    'notes on the "Q3 plan',
    "* what changed",
    "postgres upgrade window",
    "hybrid retrieval",
    "café",
]


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))]


async def apex_rows(conn, q, k, sources):
    rows = await conn.fetch(
        "SELECT id, found_in, score FROM apex_route($1, k => $2, sources => $3::text[]) ORDER BY rank",
        q, k, sources)
    return [(r["id"], list(r["found_in"]), r["score"]) for r in rows]


def peer_rows(answer):
    return [(r["id"], r["found_in"], r["score"]) for r in answer["rows"]]


async def compare(args, http):
    conn = await asyncpg.connect()
    warnings = []
    conn.add_log_listener(lambda _c, msg: warnings.append(f"{msg.severity}: {msg.message}"))
    failures = 0
    peer_answers = {}
    print(f"compare: apex_route vs the peer's /route, k={args.k}, sources {{{','.join(args.sources)}}}")
    for q in args.questions:
        warnings.clear()
        apex = await apex_rows(conn, q, args.k, args.sources)
        resp = await http.get("/route", params={"q": q, "k": args.k, "sources": ",".join(args.sources)})
        resp.raise_for_status()
        answer = resp.json()
        peer_answers[q] = answer
        peer = peer_rows(answer)
        same_ids = [r[0] for r in apex] == [r[0] for r in peer]
        same_found = [r[1] for r in apex] == [r[1] for r in peer]
        same_score = all(abs(a[2] - b[2]) < 1e-12 for a, b in zip(apex, peer))
        ok = same_ids and same_found and same_score and len(apex) == len(peer)
        note = []
        if warnings:
            note.append("apex " + "; ".join(warnings))
        if answer["errors"]:
            note.append("peer " + json.dumps(answer["errors"]))
        print(f"  {'same' if ok else 'DIFF'}  {q!r:50} {len(apex):2} rows  {' '.join(r[0] for r in apex)}"
              + (f"  [{' | '.join(note)}]" if note else ""))
        if not ok:
            failures += 1
            print(f"        peer: {' '.join(r[0] for r in peer)}")
            for a, b in zip(apex, peer):
                if a != b:
                    print(f"        apex {a}\n        peer {b}")
    await conn.close()

    resp = await http.post("/route_many", json={"queries": args.questions, "k": args.k,
                                                "sources": args.sources})
    resp.raise_for_status()
    many = resp.json()["results"]
    bad = [i for i, (q, r) in enumerate(zip(args.questions, many))
           if r["ordinal"] != i + 1 or peer_rows(r) != peer_rows(peer_answers[q])]
    print(f"  /route_many of the {len(args.questions)} questions: "
          + ("the same rows as /route for each" if not bad else f"DIFF at ordinals {[i + 1 for i in bad]}"))
    return failures + len(bad)


async def failing(args, http):
    """With the sources in args.expect_failed broken: the others' rows, the
    broken ones named, no longer than the legs' deadline (plus slack)."""
    failures = 0
    want = set(args.expect_failed.split(","))
    print(f"failing sources: {sorted(want)} expected to fail, the others to answer")
    for q in args.questions[:4]:
        t0 = time.perf_counter()
        resp = await http.get("/route", params={"q": q, "k": args.k, "sources": ",".join(args.sources)})
        ms = (time.perf_counter() - t0) * 1000
        answer = resp.json()
        ok = (resp.status_code == 200 and set(answer["errors"]) == want and answer["rows"]
              and ms < args.deadline_ms + 500)
        failures += not ok
        print(f"  {'ok  ' if ok else 'BAD '}  {q!r:30} {ms:6.0f} ms  {len(answer['rows'])} rows  {json.dumps(answer['errors'])[:150]}")
    return failures


def tree_cpu_s(pid):
    """CPU time (user + system, s) of the process pid and its descendants (the
    uvicorn workers), from /proc; 0 without a pid."""
    if not pid:
        return 0.0
    total, todo = 0.0, [pid]
    tck = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tck
            for task in os.listdir(f"/proc/{p}/task"):
                todo += open(f"/proc/{p}/task/{task}/children").read().split()
        except OSError:
            pass
    return total


def cpu_note(pid, c0, calls):
    return f", peer CPU {(tree_cpu_s(pid) - c0) / calls * 1000:.1f} ms/call" if pid else ""


def checked(resp):
    """An answer that counts: 200, every source answered, rows."""
    if resp.status_code != 200:
        return f"HTTP {resp.status_code}"
    answer = resp.json()
    if answer["errors"]:
        return json.dumps(answer["errors"])
    if not answer["rows"]:
        return "no rows"
    return None


async def load(args, base_url):
    params = {"k": args.k, "sources": ",".join(args.sources)}
    print(f"load: k={args.k}, sources {{{','.join(args.sources)}}}, questions cycled from {len(args.questions)}")

    # single calls, one after another, on a kept connection
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        for q in args.questions[:3]:  # warm-up
            await http.get("/route", params={**params, "q": q})
        times, errors = [], 0
        c0 = tree_cpu_s(args.peer_pid)
        for i in range(args.single):
            t0 = time.perf_counter()
            resp = await http.get("/route", params={**params, "q": args.questions[i % len(args.questions)]})
            times.append((time.perf_counter() - t0) * 1000)
            errors += checked(resp) is not None
        print(f"  single call ({args.single} sequential): median {statistics.median(times):.1f} ms, "
              f"p90 {pct(times, 90):.1f} ms, min {min(times):.1f} ms, errors {errors}"
              + cpu_note(args.peer_pid, c0, args.single))

    # N at once, each on its own connection (N clients); connections are
    # opened and warmed first, so the round measures the calls only
    n = args.concurrency
    clients = [httpx.AsyncClient(base_url=base_url, timeout=60) for _ in range(n)]
    try:
        await asyncio.gather(*(c.get("/health") for c in clients))
        for rnd in range(1, args.rounds + 1):
            async def one(c, i):
                t0 = time.perf_counter()
                resp = await c.get("/route", params={**params, "q": args.questions[i % len(args.questions)]})
                return (time.perf_counter() - t0) * 1000, checked(resp)
            c0, t0 = tree_cpu_s(args.peer_pid), time.perf_counter()
            results = await asyncio.gather(*(one(c, i) for i, c in enumerate(clients)))
            wall = (time.perf_counter() - t0) * 1000
            lat = [r[0] for r in results]
            errs = [r[1] for r in results if r[1]]
            print(f"  {n} concurrent /route, round {rnd}: all done in {wall:.0f} ms "
                  f"(p50 {pct(lat, 50):.0f}, p99 {pct(lat, 99):.0f} ms), errors {len(errs)}"
                  + cpu_note(args.peer_pid, c0, n)
                  + (f" e.g. {errs[0]}" if errs else ""))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))

    # the same N questions in one /route_many
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        queries = [args.questions[i % len(args.questions)] for i in range(n)]
        for rnd in range(1, args.rounds + 1):
            c0, t0 = tree_cpu_s(args.peer_pid), time.perf_counter()
            resp = await http.post("/route_many", json={"queries": queries, "k": args.k,
                                                        "sources": args.sources})
            wall = (time.perf_counter() - t0) * 1000
            resp.raise_for_status()
            errs = [r["errors"] for r in resp.json()["results"] if r["errors"] or not r["rows"]]
            print(f"  /route_many of {n} questions, round {rnd}: {wall:.0f} ms, errors {len(errs)}"
                  + cpu_note(args.peer_pid, c0, n)
                  + (f" e.g. {errs[0]}" if errs else ""))
    return 0


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--peer", required=True, help="base URL of the peer")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--sources", default="graph,vectors,docs")
    p.add_argument("--compare", action="store_true")
    p.add_argument("--load", action="store_true")
    p.add_argument("--peer-pid", type=int, help="the peer's pid: report its CPU time per call")
    p.add_argument("--single", type=int, default=20)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--expect-failed", help="sources the peer's URLs break (comma-separated)")
    p.add_argument("--deadline-ms", type=int, default=300, help="the peer's PEER_TIMEOUT_MS")
    args = p.parse_args()
    args.sources = args.sources.split(",")
    args.questions = QUESTIONS
    failures = 0
    if args.compare:
        async with httpx.AsyncClient(base_url=args.peer, timeout=30) as http:
            failures += await compare(args, http)
    if args.expect_failed:
        async with httpx.AsyncClient(base_url=args.peer, timeout=30) as http:
            failures += await failing(args, http)
    if args.load:
        failures += await load(args, args.peer)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
