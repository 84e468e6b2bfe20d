"""The requests one apex_route call over {graph,vectors} sends, for the
floors bench/table.sh compares the backend's CPU with (issue 13 item 4).

  floor_requests.py curl K N CONFIG   curl's config (-K) of N rounds of the
                                      three requests at k = K: the
                                      embedder, Qdrant with its vector,
                                      Neo4j; answers to /dev/null
  floor_requests.py answers K DIR     the Neo4j and Qdrant answers at k = K
                                      in DIR/neo4j.json and DIR/qdrant.json

The bodies are the legs' own (src/leg_neo4j.c, leg_qdrant.c,
leg_embedder.c, as test/sql/include/setup.sql configures the sources
graph, vectors and embed), sent to the test servers at NEO4J_PORT,
QDRANT_PORT and EMBED_PORT.  Standard library only.
"""
import base64
import json
import os
import struct
import sys
import urllib.request

STATEMENT = ("CALL db.index.fulltext.queryNodes('entity_text', $query_lucene) YIELD node, score\n"
             "                      RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit")
QUESTION = os.environ.get('BENCH_QUESTION', 'Sarah roadmap')


def url(port_var, path):
    return 'http://127.0.0.1:%s%s' % (os.environ[port_var], path)


def requests(k, vector):
    """(url, headers, body) of the three requests, in the order a call makes them"""
    embed = ('EMBED_PORT', '/v1/embeddings',
             ['Authorization: Bearer embed-test-key', 'Content-Type: application/json'],
             {'model': 'test-embed', 'input': QUESTION, 'encoding_format': 'base64'})
    qdrant = ('QDRANT_PORT', '/collections/memory/points/query',
              ['api-key: qdrant-test-key', 'Content-Type: application/json'],
              {'query': vector, 'limit': k, 'with_payload': True})
    neo4j = ('NEO4J_PORT', '/db/neo4j/tx/commit',
             ['Authorization: Basic ' + base64.b64encode(b'neo4j:testpassword').decode(),
              'Accept: application/json;charset=UTF-8', 'Content-Type: application/json'],
             {'statements': [{'statement': STATEMENT,
                              'parameters': {'query': QUESTION, 'query_lucene': QUESTION, 'limit': k}}]})
    return [(url(p, path), h, json.dumps(b, separators=(',', ':'))) for p, path, h, b in (embed, qdrant, neo4j)]


def post(u, headers, body):
    req = urllib.request.Request(u, data=body.encode(), method='POST')
    for h in headers:
        name, value = h.split(': ', 1)
        req.add_header(name, value)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def question_vector():
    """the embedder's vector of the question, as the qdrant leg sends it"""
    u, h, body = requests(1, [])[0]
    data = json.loads(post(u, h, body))['data'][0]['embedding']
    raw = base64.b64decode(data)
    return [float(x) for x in struct.unpack('<%df' % (len(raw) // 4), raw)]


def main():
    mode, k = sys.argv[1], int(sys.argv[2])
    reqs = requests(k, question_vector())
    if mode == 'curl':
        rounds, path = int(sys.argv[3]), sys.argv[4]
        with open(path, 'w') as f:
            for i in range(rounds):
                for j, (u, headers, body) in enumerate(reqs):
                    if i or j:
                        f.write('next\n')
                    f.write('url = %s\n' % json.dumps(u))
                    for h in headers:
                        f.write('header = %s\n' % json.dumps(h))
                    f.write('data-binary = %s\n' % json.dumps(body))
                    f.write('output = "/dev/null"\n')
    elif mode == 'answers':
        out = sys.argv[3]
        for name, (u, headers, body) in (('qdrant', reqs[1]), ('neo4j', reqs[2])):
            with open(os.path.join(out, name + '.json'), 'wb') as f:
                f.write(post(u, headers, body))
    else:
        sys.exit('usage: floor_requests.py curl K N CONFIG | answers K DIR')


if __name__ == '__main__':
    main()
