#!/usr/bin/python3
"""Write a generated corpus for benchmarks (the test servers read it through
APEX_BENCH_FIXTURES, test/lib.sh): N items shaped as test/fixtures/corpus.json,
every one mentioning Sarah, Marco or Priya and "roadmap", so that a question
such as "Sarah roadmap" matches hundreds of them in Neo4j's full-text index
and Qdrant returns k of them.  Deterministic (a fixed seed).

usage: bench/corpus.py N OUT.json
"""
import json
import random
import sys

WORDS = ("latency budget search memory panel billing migration postgres cluster "
         "vendor contract hybrid retrieval ships first second quarter plan team "
         "theme scope review design").split()


def main():
    if len(sys.argv) != 3 or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    n, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(7)
    items = []
    for i in range(n):
        who = rng.choice(["Sarah", "Marco", "Priya"])
        words = " ".join(rng.choice(WORDS) for _ in range(12))
        items.append({
            "id": "b%05d" % i,
            "kind": "note",
            "title": "%s on %s %d" % (who, rng.choice(["roadmap", "budget", "search"]), i),
            "text": "%s discussed the roadmap: %s." % (who, words),
            "created_at": "2026-10-%02dT09:00:00Z" % (1 + i % 28),
        })
    with open(out, "w") as f:
        json.dump(items, f, indent=1)


if __name__ == "__main__":
    main()
