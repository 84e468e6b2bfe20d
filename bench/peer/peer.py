"""The Python peer of apex_router (issue 13, item 6).

A federated search router written the way a careful engineer writes the
design apex_route replaces: one FastAPI application on one asyncio event
loop that fans a question out to its sources at once, waits for them with
asyncio.gather(..., return_exceptions=True), gives every leg its own
asyncio.wait_for deadline, bounds the requests in flight with an
asyncio.Semaphore, and fuses the answers with Reciprocal Rank Fusion exactly
as src/fusion.c does.  Clients are pooled and made once, at start-up: one
httpx.AsyncClient (keep-alive, limits), one asyncpg pool per database, one
redis.asyncio client.

The sources are those of test/sql/include/setup.sql (graph, vectors with its
embedder, docs) and, when asked for, those of test/sql/source_postgres.sql
(remote_docs) and source_redis.sql (recent): the same servers, statements,
collection, credentials and request bodies as apex_router's legs send.

Configuration: environment variables (README.md); `python3 peer.py --help`
for the command line, which sets the same variables and runs uvicorn.
"""

import argparse
import array
import asyncio
import base64
import json
import logging
import os
import sys
import time

import asyncpg
import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

log = logging.getLogger("peer")


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

def _env(name, default=None):
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _port_url(var, suffix=""):
    port = _env(var)
    return f"http://127.0.0.1:{port}{suffix}" if port else None


class Config:
    """Everything the peer reads from its environment, read once."""

    def __init__(self):
        self.sources = [s for s in _env("PEER_SOURCES", "graph,vectors,docs").split(",") if s]
        self.rrf_k = int(_env("PEER_RRF_K", "60"))
        self.timeout_s = int(_env("PEER_TIMEOUT_MS", "5000")) / 1000.0
        self.max_in_flight = int(_env("PEER_MAX_IN_FLIGHT", "64"))
        self.http_max_connections = int(_env("PEER_HTTP_MAX_CONNECTIONS", "100"))
        self.pg_pool_max = int(_env("PEER_PG_POOL_MAX", "10"))

        # graph: neo4j, the transactional endpoint, setup.sql's statement
        self.neo4j_url = _env("PEER_NEO4J_URL", _port_url("NEO4J_PORT"))
        self.neo4j_database = _env("PEER_NEO4J_DATABASE", "neo4j")
        self.neo4j_user = _env("PEER_NEO4J_USER", "neo4j")
        self.neo4j_password = _env("PEER_NEO4J_PASSWORD", "testpassword")
        self.neo4j_statement = _env("PEER_NEO4J_STATEMENT", NEO4J_STATEMENT)

        # vectors: the embedder, then Qdrant's points/query
        self.embed_url = _env("PEER_EMBED_URL", _port_url("EMBED_PORT", "/v1/embeddings"))
        self.embed_model = _env("PEER_EMBED_MODEL", "test-embed")
        self.embed_api_key = _env("PEER_EMBED_API_KEY", "embed-test-key")
        self.qdrant_url = _env("PEER_QDRANT_URL", _port_url("QDRANT_PORT"))
        self.qdrant_collection = _env("PEER_QDRANT_COLLECTION", "memory")
        self.qdrant_api_key = _env("PEER_QDRANT_API_KEY", "qdrant-test-key")
        self.qdrant_id_field = _env("PEER_QDRANT_ID_FIELD", "doc_id")
        self.qdrant_title_field = _env("PEER_QDRANT_TITLE_FIELD", "title")
        self.qdrant_content_field = _env("PEER_QDRANT_CONTENT_FIELD", "text")

        # docs: the local notes table (the bench cluster listens on a Unix
        # socket only: PGHOST is its directory, as test/lib.sh exports it)
        self.pg_host = _env("PEER_PG_HOST", _env("PGHOST", "/var/run/postgresql"))
        self.pg_port = int(_env("PEER_PG_PORT", _env("APEX_PGPORT", _env("PGPORT", "5432"))))
        self.pg_user = _env("PEER_PG_USER", "postgres")
        self.pg_database = _env("PEER_PG_DATABASE", "postgres")
        self.docs_query = _env("PEER_DOCS_QUERY", DOCS_QUERY)

        # remote_docs: the test bed's remote cluster (source_postgres.sql)
        self.remote_host = _env("PEER_REMOTE_PG_HOST", "127.0.0.1")
        self.remote_port = int(_env("PEER_REMOTE_PG_PORT", _env("APEX_REMOTE_PGPORT", "5433")))
        self.remote_user = _env("PEER_REMOTE_PG_USER", "apex_remote")
        self.remote_password = _env("PEER_REMOTE_PG_PASSWORD", "remote-pass")
        self.remote_database = _env("PEER_REMOTE_PG_DATABASE", "memory")

        # recent: the test bed's redis-server (source_redis.sql)
        self.redis_host = _env("PEER_REDIS_HOST", "127.0.0.1")
        self.redis_port = int(_env("PEER_REDIS_PORT", _env("APEX_REDIS_PORT", "6379")))
        self.redis_password = _env("PEER_REDIS_PASSWORD", "redis-pass")

        unknown = set(self.sources) - set(LEGS)
        if unknown:
            raise SystemExit(f"PEER_SOURCES: unknown source(s) {sorted(unknown)}; known: {sorted(LEGS)}")
        for source, needed in (("graph", self.neo4j_url), ("vectors", self.qdrant_url),
                               ("vectors", self.embed_url)):
            if source in self.sources and not needed:
                raise SystemExit(f"source {source}: set its URL or port (README.md)")


# setup.sql's texts, character for character
NEO4J_STATEMENT = """CALL db.index.fulltext.queryNodes('entity_text', $query_lucene) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit"""
DOCS_QUERY = """SELECT id, title, body, ts_rank_cd(tsv, q)
                              FROM notes, websearch_to_tsquery('english', $1) q WHERE tsv @@ q
                              ORDER BY 4 DESC, id LIMIT $2"""
REMOTE_DOCS_QUERY = """SELECT id, title, body, ts_rank_cd(tsv, q)
                  FROM notes, websearch_to_tsquery('english', $1) q WHERE tsv @@ q
                  ORDER BY 4 DESC, id LIMIT $2"""


# --------------------------------------------------------------------------
# Lucene escaping of the question (src/lucene.c, the same rules)
# --------------------------------------------------------------------------

LUCENE_SPECIALS = frozenset('\\+-!():^[]"{}~*?|&/')
LUCENE_BLANK = frozenset(" \t\r\n\u3000")
LUCENE_KEYWORDS = ("AND", "OR", "NOT")


def _ascii_alnum(ch):
    return ch.isascii() and ch.isalnum()


def lucene_escape(text):
    """The question as plain words for Lucene's classic query parser.

    A backslash before every character QueryParser.escape() escapes and
    before the first letter of every AND, OR and NOT that is not inside a
    run of ASCII letters and digits; "" for a question of Lucene's
    whitespace only (an empty query is a ParseException).
    """
    if all(ch in LUCENE_BLANK for ch in text):
        return '""'
    out = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch in LUCENE_SPECIALS:
            out.append("\\")
        elif ch in "AON" and (i == 0 or not _ascii_alnum(text[i - 1])):
            for kw in LUCENE_KEYWORDS:
                end = i + len(kw)
                if text.startswith(kw, i) and (end >= n or not _ascii_alnum(text[end])):
                    out.append("\\")
                    break
        out.append(ch)
    return "".join(out)


# --------------------------------------------------------------------------
# Items and Reciprocal Rank Fusion (src/fusion.c, the same rules)
# --------------------------------------------------------------------------

class Item:
    __slots__ = ("id", "title", "content", "score")

    def __init__(self, id, title, content, score):
        self.id = id
        self.title = title
        self.content = content
        self.score = score


def scalar_text(value):
    """A JSON string or number as text, anything else None (an item without an id)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return json.dumps(value)
    return None


def rrf_fuse(legs, rrf_k, k, weights=None):
    """Fuse [(source, [Item, ...]), ...] (in the caller's order of sources).

    fused(d) = sum over the sources s that returned d of weight(s) / (rrf_k + rank_s(d)).
    A source listing an id twice counts once, at its best rank.  Order: the
    fused score, then the best single-source rank, then the id.  found_in:
    best rank first, then source name.  Title and content: those of the
    best-ranked hit that has them.  Returns the best k as dicts.
    """
    entries = []
    for order, (source, items) in enumerate(legs):
        weight = 1.0 if weights is None else weights.get(source, 1.0)
        for rank, item in enumerate(items, 1):
            entries.append((item.id, rank, order, source, weight, item))
    entries.sort(key=lambda e: (e[0], e[1], e[2]))

    fused = []
    i, n = 0, len(entries)
    while i < n:
        id_ = entries[i][0]
        score = 0.0
        hits = []
        seen = set()
        title = content = None
        while i < n and entries[i][0] == id_:
            _, rank, _, source, weight, item = entries[i]
            i += 1
            if source in seen:
                continue
            seen.add(source)
            score += weight / (rrf_k + rank)
            hits.append((rank, source))
            if title is None:
                title = item.title
            if content is None:
                content = item.content
        hits.sort()
        fused.append((score, hits[0][0], id_, title, content, [s for _, s in hits]))
    fused.sort(key=lambda f: (-f[0], f[1], f[2]))
    return [{"rank": r, "id": f[2], "title": f[3], "content": f[4], "score": f[0], "found_in": f[5]}
            for r, f in enumerate(fused[:k], 1)]


# --------------------------------------------------------------------------
# The legs
# --------------------------------------------------------------------------

class LegError(Exception):
    """A source answered, but not with results."""


class Router:
    """The pooled clients, made once at start-up, and the legs that use them."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.http = None
        self.pg = None
        self.remote_pg = None
        self.redis = None
        self.slots = None
        self._neo4j_endpoint = None
        self._qdrant_endpoint = None

    async def start(self):
        cfg = self.cfg
        self.slots = asyncio.Semaphore(cfg.max_in_flight)
        self.http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=cfg.http_max_connections,
                                max_keepalive_connections=cfg.http_max_connections),
            timeout=httpx.Timeout(cfg.timeout_s, connect=2.0),
            follow_redirects=False)
        if cfg.neo4j_url:
            self._neo4j_endpoint = f"{cfg.neo4j_url.rstrip('/')}/db/{cfg.neo4j_database}/tx/commit"
            self._neo4j_headers = {
                "Accept": "application/json;charset=UTF-8",
                "Authorization": "Basic " + base64.b64encode(
                    f"{cfg.neo4j_user}:{cfg.neo4j_password}".encode()).decode()}
        if cfg.qdrant_url:
            self._qdrant_endpoint = (f"{cfg.qdrant_url.rstrip('/')}/collections/"
                                     f"{cfg.qdrant_collection}/points/query")
            self._qdrant_headers = {"api-key": cfg.qdrant_api_key} if cfg.qdrant_api_key else {}
        self._embed_headers = ({"Authorization": f"Bearer {cfg.embed_api_key}"}
                               if cfg.embed_api_key else {})
        if "docs" in cfg.sources:
            self.pg = await asyncpg.create_pool(
                host=cfg.pg_host, port=cfg.pg_port, user=cfg.pg_user, database=cfg.pg_database,
                min_size=1, max_size=cfg.pg_pool_max)
        if "remote_docs" in cfg.sources:
            self.remote_pg = await asyncpg.create_pool(
                host=cfg.remote_host, port=cfg.remote_port, user=cfg.remote_user,
                password=cfg.remote_password, database=cfg.remote_database,
                min_size=1, max_size=cfg.pg_pool_max)
        if "recent" in cfg.sources:
            import redis.asyncio as aioredis
            self.redis = aioredis.Redis(host=cfg.redis_host, port=cfg.redis_port,
                                        password=cfg.redis_password, decode_responses=True,
                                        max_connections=cfg.max_in_flight)

    async def stop(self):
        await self.http.aclose()
        for pool in (self.pg, self.remote_pg):
            if pool is not None:
                await pool.close()
        if self.redis is not None:
            await self.redis.close()

    # one slot of the semaphore per request in flight to a store
    async def _post(self, url, body, headers):
        async with self.slots:
            resp = await self.http.post(url, content=json.dumps(body), headers={
                **headers, "Content-Type": "application/json"})
        if resp.status_code // 100 != 2:
            raise LegError(f"HTTP {resp.status_code}: {resp.text[:200]}")
        return resp.json()

    async def graph(self, q, k, _vector=None):
        doc = await self._post(self._neo4j_endpoint, {"statements": [{
            "statement": self.cfg.neo4j_statement,
            "parameters": {"query": q, "query_lucene": lucene_escape(q), "limit": k}}]},
            self._neo4j_headers)
        # Neo4j reports a failing statement inside a 200
        if doc.get("errors"):
            raise LegError(doc["errors"][0].get("message", "The statement failed."))
        result = doc["results"][0]
        columns = result["columns"]
        items = []
        for row in result["data"]:
            cells = dict(zip(columns, row["row"]))
            id_ = scalar_text(cells.get("id"))
            if id_ is None:
                continue
            items.append(Item(id_, _cell_text(cells.get("title")), _cell_text(cells.get("content")),
                              cells.get("score")))
        return items

    async def embed(self, texts):
        """One embeddings request for all texts: their vectors, in order."""
        doc = await self._post(self.cfg.embed_url, {
            "model": self.cfg.embed_model, "input": texts, "encoding_format": "base64"},
            self._embed_headers)
        data = sorted(doc["data"], key=lambda d: d["index"])
        if len(data) != len(texts):
            raise LegError(f"The embedder answered {len(data)} vectors for {len(texts)} texts.")
        vectors = []
        for d in data:
            emb = d["embedding"]
            if isinstance(emb, str):
                emb = array.array("f", base64.b64decode(emb))
                if sys.byteorder != "little":
                    emb.byteswap()
            vectors.append(list(emb))
        return vectors

    async def vectors(self, q, k, vector=None):
        """The chain: the embedder (unless the vector is given), then Qdrant."""
        if vector is None:
            vector = (await self.embed([q]))[0]
        elif asyncio.isfuture(vector):
            vector = await vector
        cfg = self.cfg
        doc = await self._post(self._qdrant_endpoint, {
            "query": vector, "limit": k, "with_payload": True}, self._qdrant_headers)
        items = []
        for point in doc["result"]["points"]:
            payload = point.get("payload") or {}
            id_ = scalar_text(payload.get(cfg.qdrant_id_field))
            if id_ is None:
                continue
            items.append(Item(id_, scalar_text(payload.get(cfg.qdrant_title_field)),
                              scalar_text(payload.get(cfg.qdrant_content_field)), point["score"]))
        return items

    async def _sql(self, pool, query, q, k):
        async with self.slots:
            rows = await pool.fetch(query, q, k)
        return [Item(str(r[0]), r[1], r[2], r[3]) for r in rows]

    async def docs(self, q, k, _vector=None):
        return await self._sql(self.pg, self.cfg.docs_query, q, k)

    async def remote_docs(self, q, k, _vector=None):
        return await self._sql(self.remote_pg, REMOTE_DOCS_QUERY, q, k)

    async def recent(self, q, k, _vector=None):
        """src/leg_redis.c's search: the query's terms' sets, then the best items' hashes."""
        terms = redis_terms(q)
        if not terms:
            return []
        async with self.slots:
            async with self.redis.pipeline(transaction=False) as pipe:
                for t in terms:
                    pipe.zrevrange(f"mem:term:{t}", 0, k * 4 - 1, withscores=True)
                sets = await pipe.execute()
        hits = {}
        for members in sets:
            for id_, recency in members:
                h = hits.get(id_)
                if h is None:
                    hits[id_] = [1, recency]
                else:
                    h[0] += 1
                    h[1] = max(h[1], recency)
        best = sorted(hits.items(), key=lambda e: (-e[1][0], -e[1][1], e[0]))[:k]
        if not best:
            return []
        async with self.slots:
            async with self.redis.pipeline(transaction=False) as pipe:
                for id_, _ in best:
                    pipe.hgetall(f"mem:item:{id_}")
                hashes = await pipe.execute()
        return [Item(id_, h.get("title"), h.get("content"), m)
                for (id_, (m, _)), h in zip(best, hashes) if h]

    # ----------------------------------------------------------------------

    async def _leg(self, source, q, k, vector=None):
        """One leg under its own deadline."""
        try:
            return await asyncio.wait_for(getattr(self, source)(q, k, vector), self.cfg.timeout_s)
        except asyncio.TimeoutError:
            raise LegError(f"Timed out after {int(self.cfg.timeout_s * 1000)} ms.") from None

    async def route(self, q, k, sources):
        """One question: every leg at once, fused."""
        results = await asyncio.gather(*(self._leg(s, q, k) for s in sources),
                                       return_exceptions=True)
        return self._fuse(sources, results, k)

    async def route_many(self, queries, k, sources):
        """Many questions: all legs of all questions at once, one embeddings request."""
        embedding = None
        if "vectors" in sources:
            # one batched request for every text; each question's vectors leg
            # waits for it, then searches (failing with it if it fails)
            embedding = asyncio.ensure_future(
                asyncio.wait_for(self.embed(list(queries)), self.cfg.timeout_s))
        loop = asyncio.get_running_loop()
        vector_futs = []
        if embedding is not None:
            vector_futs = [loop.create_future() for _ in queries]

            def spread(task):
                for i, f in enumerate(vector_futs):
                    if f.done():  # its leg timed out and let it go
                        continue
                    if task.cancelled():
                        f.cancel()
                    elif task.exception() is not None:
                        f.set_exception(task.exception())
                    else:
                        f.set_result(task.result()[i])
            embedding.add_done_callback(spread)

        legs = []
        for i, q in enumerate(queries):
            for s in sources:
                legs.append(self._leg(s, q, k, vector_futs[i] if s == "vectors" else None))
        results = await asyncio.gather(*legs, return_exceptions=True)
        n = len(sources)
        out = []
        for i in range(len(queries)):
            answer = self._fuse(sources, results[i * n:(i + 1) * n], k)
            answer["ordinal"] = i + 1
            out.append(answer)
        return out

    def _fuse(self, sources, results, k):
        legs, errors = [], {}
        for source, res in zip(sources, results):
            if isinstance(res, BaseException):
                errors[source] = _describe(res)
                log.warning("source %s: %s", source, errors[source])
            else:
                legs.append((source, res))
        return {"rows": rrf_fuse(legs, self.cfg.rrf_k, k), "errors": errors}


def _cell_text(value):
    if value is None:
        return None
    text = scalar_text(value)
    return text if text is not None else json.dumps(value)


def _describe(exc):
    if isinstance(exc, LegError):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return f"Timed out: {type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def redis_terms(text):
    """Lower-case alphanumeric terms of the question, each once (src/leg_redis.c).

    Non-ASCII characters count as letters, kept as they are; a term needs
    more than one byte of UTF-8; at most 32 terms.
    """
    terms, cur = [], []
    for ch in text + "\0":
        if ch != "\0" and (not ch.isascii() or ch.isalnum()):
            cur.append(ch.lower() if ch.isascii() else ch)
            continue
        term = "".join(cur)
        if len(term.encode()) > 1 and len(terms) < 32 and term not in terms:
            terms.append(term)
        cur = []
    return terms


LEGS = {"graph", "vectors", "docs", "remote_docs", "recent"}


# --------------------------------------------------------------------------
# The application
# --------------------------------------------------------------------------

app = FastAPI(title="apex_router peer", docs_url=None, redoc_url=None, openapi_url=None)
router = None


@app.on_event("startup")
async def _startup():
    global router
    router = Router(Config())
    await router.start()
    log.info("peer ready, sources %s", router.cfg.sources)


@app.on_event("shutdown")
async def _shutdown():
    if router is not None:
        await router.stop()


def _json(obj, status=200):
    return Response(content=json.dumps(obj, separators=(",", ":")), status_code=status,
                    media_type="application/json")


def _args(k, sources):
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise HTTPException(422, "k must be an integer") from None
    if not 1 <= k <= 10000:
        raise HTTPException(422, "k must be between 1 and 10000")
    if sources is None:
        sources = router.cfg.sources
    elif isinstance(sources, str):
        sources = [s for s in sources.split(",") if s]
    unknown = [s for s in sources if s not in router.cfg.sources]
    if unknown or not sources:
        raise HTTPException(422, f"unknown or unconfigured source(s): {unknown}")
    return k, list(dict.fromkeys(sources))


def _question(q):
    if not isinstance(q, str) or not q.strip():
        raise HTTPException(422, "q must be a non-blank string")
    return q


@app.get("/health")
async def health():
    return _json({"status": "ok", "sources": router.cfg.sources})


@app.get("/route")
async def route_get(q: str, k: int = 10, sources: str = None):
    k, sources = _args(k, sources)
    return _json(await router.route(_question(q), k, sources))


@app.post("/route")
async def route_post(request: Request):
    body = await request.json()
    k, sources = _args(body.get("k", 10), body.get("sources"))
    return _json(await router.route(_question(body.get("q")), k, sources))


@app.post("/route_many")
async def route_many(request: Request):
    body = await request.json()
    queries = body.get("queries")
    if not isinstance(queries, list) or not queries:
        raise HTTPException(422, "queries must be a non-empty list of strings")
    queries = [_question(q) for q in queries]
    k, sources = _args(body.get("k", 10), body.get("sources"))
    return _json({"results": await router.route_many(queries, k, sources)})


def main():
    p = argparse.ArgumentParser(description="The Python peer of apex_router (bench/peer/README.md).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=int(_env("PEER_WORKERS", "1")),
                   help="uvicorn worker processes (each with its own loop and pools)")
    p.add_argument("--sources", help="PEER_SOURCES: comma-separated (graph,vectors,docs)")
    p.add_argument("--timeout-ms", type=int, help="PEER_TIMEOUT_MS: each leg's deadline (5000)")
    p.add_argument("--max-in-flight", type=int,
                   help="PEER_MAX_IN_FLIGHT: requests to the stores at once, per worker (64)")
    a = p.parse_args()
    for var, value in (("PEER_SOURCES", a.sources), ("PEER_TIMEOUT_MS", a.timeout_ms),
                       ("PEER_MAX_IN_FLIGHT", a.max_in_flight)):
        if value is not None:
            os.environ[var] = str(value)
    Config()  # fail here, not in every worker, on a bad configuration
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(message)s")
    import uvicorn
    uvicorn.run("peer:app", app_dir=os.path.dirname(os.path.abspath(__file__)),
                host=a.host, port=a.port, workers=a.workers, access_log=False,
                log_level="warning", loop="auto", http="auto")


if __name__ == "__main__":
    main()
