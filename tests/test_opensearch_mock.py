"""Tests of the strict OpenSearch mock (tests/opensearch_mock.py) itself.

Run: .venv/bin/python -m pytest tests/test_opensearch_mock.py -q
"""
import gzip
import http.client
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

MOCK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "opensearch_mock.py")
NDJSON = "application/x-ndjson"


class Mock:
    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, MOCK, "--port", "0", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("READY http://127.0.0.1:"), (line, self.proc.stderr.read() if not line else "")
        self.url = line.split()[1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def req(self, method, path, body=None, ctype="application/json", headers=None, raw=False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        h = dict(headers or {})
        if body is not None and ctype and "Content-Type" not in h:
            h["Content-Type"] = ctype
        r = urllib.request.Request(self.url + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                status, data, rh = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as e:
            status, data, rh = e.code, e.read(), e.headers
        if raw:
            return status, data, rh
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data.decode()

    def bulk(self, lines, path="/_bulk", **kw):
        body = "".join(json.dumps(x) + "\n" for x in lines)
        return self.req("POST", path, body, ctype=NDJSON, **kw)

    def stats(self):
        return self.req("GET", "/_mock/stats")[1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()


@pytest.fixture(scope="module")
def shared():
    m = Mock()
    yield m
    m.stop()


@pytest.fixture
def os_(shared):
    assert shared.req("POST", "/_mock/reset")[0] == 200
    return shared


def item(resp, n=0):
    (body,) = resp["items"][n].values()
    return body


# ---------------------------------------------------------------- process contract
def test_ready_line_and_cluster_info(os_):
    status, info = os_.req("GET", "/")
    assert status == 200
    assert info["version"]["distribution"] == "opensearch" and info["version"]["number"] == "2.17.0"
    _, _, headers = os_.req("GET", "/", raw=True)
    assert headers["Content-Type"] == "application/json; charset=UTF-8"


def test_sigterm_and_stdin_eof_stop_the_server():
    m = Mock()
    m.proc.send_signal(signal.SIGTERM)
    assert m.proc.wait(timeout=10) == 0
    m.stop()
    m = Mock("--exit-on-stdin-eof")
    m.proc.stdin.close()
    assert m.proc.wait(timeout=10) == 0
    m.proc.stdin = open(os.devnull)
    m.stop()


def test_keep_alive_and_chunked_body(os_):
    conn = http.client.HTTPConnection("127.0.0.1", os_.port, timeout=10)
    body = b'{"index":{"_index":"chunky","_id":"1"}}\n{"a":1}\n'
    conn.putrequest("POST", "/_bulk")
    conn.putheader("Content-Type", NDJSON)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for piece in (body[:10], body[10:]):
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("Content-Length")
    assert item(json.loads(r.read()))["status"] == 201
    conn.request("GET", "/chunky/_count")  # same connection
    r = conn.getresponse()
    assert json.loads(r.read())["count"] == 1
    conn.close()


def test_gzip_request_body(os_):
    raw = b'{"create":{"_index":"gz","_id":"1"}}\n{"msg":"zipped"}\n'
    status, resp = os_.req("POST", "/_bulk", gzip.compress(raw), ctype=NDJSON, headers={"Content-Encoding": "gzip"})
    assert status == 200 and not resp["errors"]
    st = os_.stats()
    assert st["content_encodings"] == {"gzip": 1}
    assert st["bulk_request_bytes"] == [len(gzip.compress(raw))]  # bytes as sent on the wire
    assert os_.req("POST", "/gz/_search", {"query": {"term": {"msg": "zipped"}}})[1]["hits"]["total"]["value"] == 1


# ---------------------------------------------------------------- bulk framing
def test_bulk_requires_terminating_newline(os_):
    status, resp = os_.req("POST", "/_bulk", '{"index":{"_index":"a"}}\n{"x":1}', ctype=NDJSON)
    assert status == 400
    assert resp["error"]["type"] == "illegal_argument_exception"
    assert resp["error"]["reason"] == "The bulk request must be terminated by a newline [\\n]"
    assert os_.req("GET", "/a/_count")[0] == 404


def test_bulk_content_type_is_checked(os_):
    status, resp = os_.req("POST", "/_bulk", '{"index":{"_index":"a"}}\n{"x":1}\n', ctype="text/plain")
    assert status == 406 and "is not supported" in resp["error"]
    assert os_.req("POST", "/_bulk", '{"index":{"_index":"a"}}\n{"x":1}\n', ctype="application/json")[0] == 200


def test_malformed_action_line_rejects_whole_request(os_):
    lines = '{"create":{"_index":"m","_id":"1"}}\n{"x":1}\n{"upsert_all":{"_index":"m"}}\n{"x":2}\n'
    status, resp = os_.req("POST", "/_bulk", lines, ctype=NDJSON)
    assert status == 400 and resp["status"] == 400
    assert resp["error"]["root_cause"][0]["type"] == "illegal_argument_exception"
    assert "Malformed action/metadata line [3]" in resp["error"]["reason"]
    status, resp = os_.req("POST", "/_bulk", '{"index":{"_index":"m","_type":"_doc"}}\n{"x":1}\n', ctype=NDJSON)
    assert status == 400 and "unknown parameter [_type]" in resp["error"]["reason"]
    assert os_.req("GET", "/m/_count")[0] == 404  # nothing stored


def test_create_conflict_and_index_overwrite(os_):
    status, resp = os_.bulk([{"create": {"_index": "logs", "_id": "a"}}, {"v": 1},
                             {"create": {"_index": "logs", "_id": "a"}}, {"v": 2},
                             {"index": {"_index": "logs", "_id": "b"}}, {"v": 1},
                             {"index": {"_index": "logs", "_id": "b"}}, {"v": 2}])
    assert status == 200 and resp["errors"] is True
    first, dup, b1, b2 = (item(resp, i) for i in range(4))
    assert first["status"] == 201 and first["result"] == "created" and first["_version"] == 1
    assert first["_shards"] == {"total": 2, "successful": 1, "failed": 0} and first["_primary_term"] == 1
    assert dup["status"] == 409 and "result" not in dup
    assert dup["error"]["type"] == "version_conflict_engine_exception"
    assert dup["error"]["reason"] == "[a]: version conflict, document already exists (current version [1])"
    assert {"index", "shard", "index_uuid"} <= set(dup["error"])
    assert b1["status"] == 201 and b2["status"] == 200 and b2["result"] == "updated" and b2["_version"] == 2
    assert b2["_seq_no"] > b1["_seq_no"]
    assert os_.req("GET", "/logs/_doc/a")[1]["_source"] == {"v": 1}
    assert os_.req("GET", "/logs/_doc/b")[1]["_source"] == {"v": 2}
    assert os_.stats()["statuses"] == {"201": 2, "409": 1, "200": 1}


def test_item_level_validation(os_):
    status, resp = os_.bulk([{"index": {"_index": "Upper"}}, {"x": 1},
                             {"index": {"_index": "ok", "_id": "x" * 513}}, {"x": 1},
                             {"index": {"_index": "ok"}}, [1, 2],
                             {"index": {"_index": "ok"}}, {"x": 1}])
    assert status == 200 and resp["errors"]
    assert item(resp, 0)["error"]["type"] == "invalid_index_name_exception"
    assert item(resp, 1)["status"] == 400 and item(resp, 1)["error"]["type"] == "illegal_argument_exception"
    assert item(resp, 2)["error"]["type"] == "mapper_parsing_exception"
    assert item(resp, 3)["status"] == 201 and len(item(resp, 3)["_id"]) == 20  # generated id


# ---------------------------------------------------------------- faults
def test_item_fault_then_success(os_):
    os_.req("POST", "/_mock/faults", {"item_status": [{"match": "poison", "status": 429, "times": 2}]})
    doc = [{"create": {"_index": "f", "_id": "p1"}}, {"msg": "poison pill"},
           {"create": {"_index": "f", "_id": "ok1"}}, {"msg": "fine"}]
    for attempt in range(3):
        status, resp = os_.bulk(doc if attempt == 0 else doc[:2])
        assert status == 200
        if attempt < 2:
            assert item(resp)["status"] == 429
            assert item(resp)["error"]["type"] == "es_rejected_execution_exception"
            assert "rejected execution" in item(resp)["error"]["reason"]
            assert os_.req("GET", "/f/_doc/p1")[0] == 404  # not stored
        else:
            assert item(resp)["status"] == 201 and not resp["errors"]
    st = os_.stats()
    assert st["item_attempts"]["f/p1"] == 3 and st["item_attempts"]["f/ok1"] == 1


def test_item_fault_by_id_forever_and_other_statuses(os_):
    os_.req("POST", "/_mock/faults", {"item_status": [{"match": "bad-", "status": 400, "times": -1},
                                                       {"match": "down", "status": 503, "times": 1}]})
    for _ in range(3):
        _, resp = os_.bulk([{"index": {"_index": "f", "_id": "bad-1"}}, {"x": 1}])
        assert item(resp)["status"] == 400 and item(resp)["error"]["type"] == "mapper_parsing_exception"
    _, resp = os_.bulk([{"index": {"_index": "f", "_id": "1"}}, {"x": "down"}])
    assert item(resp)["status"] == 503 and "unavailable" in item(resp)["error"]["type"]


def test_request_fault(os_):
    os_.req("POST", "/_mock/faults", {"request_status": [{"status": 503, "times": 1}, {"status": 429, "times": 1}]})
    docs = [{"index": {"_index": "r", "_id": "1"}}, {"x": 1}]
    status, resp = os_.bulk(docs)
    assert status == 503 and "unavailable" in json.dumps(resp)
    status, resp = os_.bulk(docs, path="/r/_bulk")
    assert status == 429 and resp["error"]["type"] == "es_rejected_execution_exception"
    assert os_.req("GET", "/r/_count")[0] == 404  # nothing stored
    status, resp = os_.bulk(docs)
    assert status == 200 and item(resp)["status"] == 201
    st = os_.stats()
    assert st["bulk_requests"] == 3 and st["faulted_requests"] == 2


def test_max_request_bytes_413(os_):
    os_.req("POST", "/_mock/faults", {"max_request_bytes": 100})
    small = [{"index": {"_index": "big", "_id": "1"}}, {"x": 1}]
    big = [{"index": {"_index": "big", "_id": "2"}}, {"x": "y" * 200}]
    status, _, _ = os_.req("POST", "/_bulk", "".join(json.dumps(x) + "\n" for x in big), ctype=NDJSON, raw=True)
    assert status == 413
    assert os_.bulk(small)[0] == 200
    assert os_.req("GET", "/big/_count")[1]["count"] == 1
    assert os_.stats()["bulk_request_bytes"][0] > 100


# ---------------------------------------------------------------- templates & mappings
TEMPLATE = {
    "index_patterns": ["app-*"], "priority": 10,
    "template": {"settings": {"number_of_shards": 1},
                 "mappings": {"dynamic": "strict", "properties": {
                     "ts": {"type": "date"}, "level": {"type": "keyword"}, "n": {"type": "integer"},
                     "attrs": {"type": "object", "dynamic": False, "properties": {"k": {"type": "keyword"}}},
                     "ip": {"type": "ip"}, "labels": {"type": "flat_object"}}}},
}


def test_template_crud_and_validation(os_):
    assert os_.req("PUT", "/_index_template/app", TEMPLATE) == (200, {"acknowledged": True})
    assert os_.req("PUT", "/_index_template/app", TEMPLATE) == (200, {"acknowledged": True})  # idempotent
    status, got = os_.req("GET", "/_index_template/app")
    assert status == 200 and got["index_templates"][0]["name"] == "app"
    assert got["index_templates"][0]["index_template"]["index_patterns"] == ["app-*"]
    assert os_.req("HEAD", "/_index_template/app")[0] == 200
    assert os_.req("HEAD", "/_index_template/nope")[0] == 404
    status, resp = os_.req("GET", "/_index_template/nope")
    assert status == 404 and resp["error"]["type"] == "resource_not_found_exception"
    status, resp = os_.req("PUT", "/_index_template/x", {"index_patterns": "x-*", "bogus": 1})
    assert status == 400 and resp["error"]["type"] == "x_content_parse_exception"
    bad = {"index_patterns": ["x-*"], "template": {"mappings": {"properties": {"f": {"type": "strng"}}}}}
    status, resp = os_.req("PUT", "/_index_template/x", bad)
    assert status == 400 and "No handler for type [strng] declared on field [f]" in resp["error"]["reason"]
    status, resp = os_.req("PUT", "/_index_template/dup", {"index_patterns": ["app-x*"], "priority": 10})
    assert status == 400 and "same priority" in resp["error"]["reason"]
    assert os_.req("DELETE", "/_index_template/app")[0] == 200
    assert os_.req("GET", "/_index_template/app")[0] == 404


def test_template_applied_strict_and_dynamic_false(os_):
    os_.req("PUT", "/_index_template/app", TEMPLATE)
    status, resp = os_.bulk([
        {"create": {"_index": "app-1", "_id": "1"}},
        {"ts": "2024-05-01T10:00:00Z", "level": "info", "n": 3, "attrs": {"k": "v", "extra": "hidden"},
         "ip": "10.0.0.1", "labels": {"team": {"name": "core"}}},
        {"create": {"_index": "app-1", "_id": "2"}}, {"ts": "2024-05-01T10:00:00Z", "surprise": 1},
        {"create": {"_index": "app-1", "_id": "3"}}, {"ts": "2024-05-01 10:00:00"},
        {"create": {"_index": "app-1", "_id": "4"}}, {"n": 2 ** 31},
        {"create": {"_index": "app-1", "_id": "5"}}, {"level": {"nested": "object"}},
        {"create": {"_index": "app-1", "_id": "6"}}, {"ip": "999.1.1.1"},
        {"create": {"_index": "app-1", "_id": "7"}}, {"n": "42", "level": 7},
    ])
    st = [item(resp, i)["status"] for i in range(7)]
    assert st == [201, 400, 400, 400, 400, 400, 201]
    err = item(resp, 1)["error"]
    assert err["type"] == "strict_dynamic_mapping_exception"
    assert err["reason"] == "mapping set to strict, dynamic introduction of [surprise] within [_doc] is not allowed"
    assert all(item(resp, i)["error"]["type"] == "mapper_parsing_exception" for i in (2, 3, 4, 5))
    mapping = os_.req("GET", "/app-1/_mapping")[1]["app-1"]["mappings"]
    assert mapping["dynamic"] == "strict" and "surprise" not in mapping["properties"]
    assert "extra" not in mapping["properties"]["attrs"]["properties"]
    assert os_.req("GET", "/app-1/_settings")[1]["app-1"]["settings"]["index"]["number_of_shards"] == "1"

    def count(q):
        return os_.req("POST", "/app-1/_count", {"query": q})[1]["count"]
    assert count({"term": {"attrs.k": "v"}}) == 1
    assert count({"term": {"attrs.extra": "hidden"}}) == 0  # dynamic:false -> stored, not indexed
    assert os_.req("GET", "/app-1/_doc/1")[1]["_source"]["attrs"]["extra"] == "hidden"
    assert count({"term": {"labels.team.name": "core"}}) == 1
    assert count({"term": {"ip": "10.0.0.0/8"}}) == 1
    assert count({"term": {"level": "7"}}) == 1


def test_dynamic_mapping_inference_conflicts_and_field_count(os_):
    _, resp = os_.bulk([{"index": {"_index": "dyn", "_id": "1"}},
                        {"msg": "Hello World", "n": 1, "f": 1.5, "ok": True, "when": "2024-01-02T03:04:05Z",
                         "o": {"a": {"b": "c"}}, "dotted.key": 1},
                        {"index": {"_index": "dyn", "_id": "2"}}, {"n": "not a number"},
                        {"index": {"_index": "dyn", "_id": "3"}}, {"o": "scalar", "brand_new": 1}])
    assert [item(resp, i)["status"] for i in range(3)] == [201, 400, 400]
    props = os_.req("GET", "/dyn/_mapping")[1]["dyn"]["mappings"]["properties"]
    assert props["msg"] == {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    assert props["n"]["type"] == "long" and props["f"]["type"] == "float" and props["ok"]["type"] == "boolean"
    assert props["when"]["type"] == "date" and props["dotted"]["properties"]["key"]["type"] == "long"
    assert "brand_new" not in props  # failed document left no mapping behind
    fields = os_.req("GET", "/_mock/fields/dyn")[1]
    assert fields["count"] == len(fields["fields"]) == 12 == os_.stats()["mapped_fields"]["dyn"]


def test_total_fields_limit(os_):
    os_.req("PUT", "/_index_template/lim", {"index_patterns": ["lim*"],
                                            "template": {"settings": {"index.mapping.total_fields.limit": 5}}})
    _, resp = os_.bulk([{"index": {"_index": "lim"}}, {f"k{i}": i for i in range(6)}])
    assert item(resp)["status"] == 400 and "Limit of total fields [5]" in item(resp)["error"]["reason"]


# ---------------------------------------------------------------- ISM
POLICY = {"policy": {"description": "logs", "default_state": "hot", "states": [
    {"name": "hot", "actions": [{"rollover": {"min_size": "50gb"}}],
     "transitions": [{"state_name": "delete", "conditions": {"min_index_age": "30d"}}]},
    {"name": "delete", "actions": [{"delete": {}}], "transitions": []}],
    "ism_template": [{"index_patterns": ["logs-*"], "priority": 100}]}}


def test_ism_create_conflict_update(os_):
    status, resp = os_.req("PUT", "/_plugins/_ism/policies/p1", POLICY)
    assert status == 201 and resp["_id"] == "p1" and resp["_version"] == 1 and resp["_primary_term"] == 1
    assert resp["policy"]["policy"]["default_state"] == "hot"
    seq = resp["_seq_no"]
    status, resp = os_.req("PUT", "/_plugins/_ism/policies/p1", POLICY)
    assert status == 409 and resp["error"]["type"] == "version_conflict_engine_exception"
    status, resp = os_.req("PUT", f"/_plugins/_ism/policies/p1?if_seq_no={seq + 5}&if_primary_term=1", POLICY)
    assert status == 409
    status, got = os_.req("GET", "/_plugins/_ism/policies/p1")
    assert status == 200 and got["_seq_no"] == seq and got["policy"]["policy_id"] == "p1"
    status, resp = os_.req("PUT", f"/_plugins/_ism/policies/p1?if_seq_no={seq}&if_primary_term=1", POLICY)
    assert status == 200 and resp["_version"] == 2 and resp["_seq_no"] > seq
    assert os_.req("DELETE", "/_plugins/_ism/policies/p1")[0] == 200
    assert os_.req("GET", "/_plugins/_ism/policies/p1")[0] == 404


def test_ism_validation(os_):
    bad_default = json.loads(json.dumps(POLICY))
    bad_default["policy"]["default_state"] = "warm"
    assert os_.req("PUT", "/_plugins/_ism/policies/x", bad_default)[0] == 400
    bad_transition = json.loads(json.dumps(POLICY))
    bad_transition["policy"]["states"][0]["transitions"][0]["state_name"] = "cold"
    assert os_.req("PUT", "/_plugins/_ism/policies/x", bad_transition)[0] == 400
    assert os_.req("GET", "/_plugins/_ism/policies/x")[0] == 404


# ---------------------------------------------------------------- search
@pytest.fixture
def corpus(os_):
    docs = []
    for i in range(25):
        idx = "web-a" if i % 2 else "web-b"
        docs += [{"index": {"_index": idx, "_id": str(i)}},
                 {"n": i, "status": "ok" if i % 5 else "error", "ts": f"2024-01-{i + 1:02d}T00:00:00Z"}]
    assert not os_.bulk(docs)[1]["errors"]
    return os_


def test_count_and_search_queries(corpus):
    def count(q, index="web-*"):
        status, resp = corpus.req("POST", f"/{index}/_count", {"query": q})
        assert status == 200, resp
        return resp["count"]
    assert count({"match_all": {}}) == 25
    assert count({"term": {"status": "error"}}) == 5
    assert count({"term": {"status": {"value": "error"}}}) == 5
    assert count({"term": {"status.keyword": "error"}}) == 5
    assert count({"terms": {"n": [1, 2, 3, 100]}}) == 3
    assert count({"ids": {"values": ["0", "1", "nope"]}}) == 2
    assert count({"range": {"n": {"gte": 10, "lt": 20}}}) == 10
    assert count({"range": {"ts": {"gt": "2024-01-20T00:00:00Z"}}}) == 5
    assert count({"range": {"ts": {"lte": "2024-01-03"}}}) == 3
    assert count({"bool": {"must": [{"term": {"status": "ok"}}], "filter": [{"range": {"n": {"lt": 10}}}],
                           "must_not": [{"ids": {"values": ["1"]}}]}}) == 7
    assert count({"match_all": {}}, "web-a") == 12
    assert count({"match_all": {}}, "web-a,web-b") == 25
    assert count({"match_all": {}}, "_all") == 25
    assert count({"match_all": {}}, "nothing-*") == 0
    status, resp = corpus.req("POST", "/missing/_count", {"query": {"match_all": {}}})
    assert status == 404 and resp["error"]["type"] == "index_not_found_exception"
    status, resp = corpus.req("POST", "/web-a/_search", {"query": {"match_all": {}}, "size": 5, "from": 10,
                                                          "sort": [{"n": "asc"}]})
    hits = resp["hits"]
    assert hits["total"] == {"value": 12, "relation": "eq"} and [h["_id"] for h in hits["hits"]] == ["21", "23"]
    assert set(hits["hits"][0]) >= {"_index", "_id", "_source"}
    status, resp = corpus.req("GET", "/web-*/_search")
    assert len(resp["hits"]["hits"]) == 10  # default size
    status, resp = corpus.req("POST", "/web-a/_search", {"query": {"bogus": {}}})
    assert status == 400 and resp["error"]["type"] == "parsing_exception"


def test_unknown_endpoint_and_params(os_):
    status, resp = os_.req("GET", "/_nope")
    assert status == 400 and resp["error"].startswith("no handler found for uri [/_nope] and method [GET]")
    status, resp = os_.req("GET", "/_bulk")
    assert status == 405
    status, resp = os_.req("GET", "/_cat/indices?format=json&bogus=1")
    assert status == 400 and "unrecognized parameter: [bogus]" in resp["error"]["reason"]


def test_cat_indices_delete_and_filter_path(os_):
    os_.bulk([{"index": {"_index": "c1", "_id": "1"}}, {"x": 1}, {"index": {"_index": "c2", "_id": "1"}}, {"x": 1}])
    status, rows = os_.req("GET", "/_cat/indices?format=json")
    assert status == 200 and {r["index"]: r["docs.count"] for r in rows} == {"c1": "1", "c2": "1"}
    assert os_.req("POST", "/c1/_refresh")[0] == 200
    assert os_.req("DELETE", "/c1") == (200, {"acknowledged": True})
    assert os_.req("GET", "/c1/_count")[0] == 404
    _, resp = os_.bulk([{"create": {"_index": "c2", "_id": "1"}}, {"x": 1}], path="/_bulk?filter_path=errors,items.*.error.type")
    assert resp == {"errors": True, "items": [{"create": {"error": {"type": "version_conflict_engine_exception"}}}]}


def test_data_stream_template(os_):
    os_.req("PUT", "/_index_template/ds", {"index_patterns": ["stream-*"], "data_stream": {}, "priority": 5})
    _, resp = os_.bulk([{"create": {"_index": "stream-x"}}, {"@timestamp": "2024-01-01T00:00:00Z", "m": 1},
                        {"index": {"_index": "stream-x"}}, {"@timestamp": "2024-01-01T00:00:00Z"},
                        {"create": {"_index": "stream-x"}}, {"m": 2}])
    assert item(resp, 0)["status"] == 201 and item(resp, 0)["_index"] == ".ds-stream-x-000001"
    assert item(resp, 1)["status"] == 400 and "op_type of create" in item(resp, 1)["error"]["reason"]
    assert item(resp, 2)["status"] == 400
    assert os_.req("GET", "/stream-x/_count")[1]["count"] == 1


# ---------------------------------------------------------------- auth
AK, SK = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def signed(mock, method, path, body, service="es", secret=SK, content_sha=False, send_body=None):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    import hashlib
    headers = {"Content-Type": NDJSON}
    if content_sha:
        headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    r = AWSRequest(method=method, url=mock.url + path, data=body, headers=headers)
    SigV4Auth(Credentials(AK, secret), service, "eu-west-1").add_auth(r)
    return mock.req(method, path, body if send_body is None else send_body, ctype=None, headers=dict(r.headers.items()))


@pytest.fixture(scope="module")
def sigv4():
    m = Mock("--sigv4", f"{AK}:{SK}:eu-west-1:es")
    yield m
    m.stop()


def test_sigv4_accepted_and_rejected(sigv4):
    body = b'{"index":{"_index":"sig","_id":"1"}}\n{"a":1}\n'
    status, resp = signed(sigv4, "POST", "/_bulk", body)
    assert status == 200 and item(resp)["status"] == 201, resp
    status, resp = signed(sigv4, "GET", "/sig/_count?ignore_unavailable=true", b"")
    assert status == 200 and resp["count"] == 1
    status, resp = signed(sigv4, "GET", "/si*/_count", b"")
    assert status == 200 and resp["count"] == 1
    status, resp = signed(sigv4, "POST", "/_bulk", body, send_body=body.replace(b'"a":1', b'"a":2'))
    assert status == 403 and resp["message"].startswith("The request signature we calculated does not match")
    status, resp = signed(sigv4, "POST", "/_bulk", body, secret="wrong")
    assert status == 403 and "does not match" in resp["message"]
    status, resp = sigv4.req("POST", "/_bulk", body, ctype=NDJSON)
    assert status == 403 and resp == {"message": "Missing Authentication Token"}
    st = sigv4.req("GET", "/_mock/stats")[1]  # never auth-checked
    assert st["sigv4_verified"] == 3 and st["auth_failures"] == 3


def test_sigv4_aoss_requires_signed_content_sha():
    m = Mock("--sigv4", f"{AK}:{SK}:eu-west-1:aoss")
    try:
        body = b'{"index":{"_index":"s","_id":"1"}}\n{"a":1}\n'
        assert signed(m, "POST", "/_bulk", body, service="aoss")[0] == 403
        status, resp = signed(m, "POST", "/_bulk", body, service="aoss", content_sha=True)
        assert status == 200 and item(resp)["status"] == 201
    finally:
        m.stop()


def test_basic_auth():
    m = Mock("--basic", "admin:s3cret")
    try:
        status, body, headers = m.req("GET", "/", raw=True)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
        import base64
        bad = {"Authorization": "Basic " + base64.b64encode(b"admin:nope").decode()}
        assert m.req("GET", "/", headers=bad)[0] == 401
        good = {"Authorization": "Basic " + base64.b64encode(b"admin:s3cret").decode()}
        assert m.req("GET", "/", headers=good)[0] == 200
        assert m.req("GET", "/_mock/stats")[0] == 200
    finally:
        m.stop()
