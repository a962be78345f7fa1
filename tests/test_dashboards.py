"""search/dashboards.ndjson, the OpenSearch Dashboards saved objects that
`loglake search setup` and Terraform import: an OSD 2.x export that imports
into the strict test server (tests/opensearch_mock.py) idempotently with
overwrite, whose visualizations aggregate only fields the index template
(search/index-template.json) maps with an aggregatable type; and the test
server's import API, which rejects malformed files.

Run: .venv/bin/python -m pytest tests/test_dashboards.py -q
"""
import json
import os
import re
import shutil
import subprocess
import textwrap
import urllib.parse
from pathlib import Path

import hcl2
import pytest

from test_opensearch_mock import Mock

ROOT = Path(__file__).resolve().parent.parent
NDJSON = ROOT / "search" / "dashboards.ndjson"
TEMPLATE = ROOT / "search" / "index-template.json"
API = "/_dashboards/api/saved_objects"
BOUNDARY = "loglake-test-boundary"
XSRF = {"osd-xsrf": "true"}
# What OpenSearch Dashboards 2.x writes as migrationVersion (its newest migration per type).
OSD_MIGRATIONS = {"index-pattern": "7.6.0", "search": "7.9.3", "visualization": "7.10.0", "dashboard": "7.9.3"}
AGGREGATABLE = {"keyword", "date", "long", "integer", "short", "byte", "double", "float", "half_float",
                "scaled_float", "unsigned_long"}
NUMERIC = AGGREGATABLE - {"keyword", "date"}


# ---------------------------------------------------------------- helpers
def shipped_lines():
    return NDJSON.read_text().splitlines()


def shipped_objects():
    return [o for o in map(json.loads, shipped_lines()) if "exportedCount" not in o]


def ndjson(objects, summary=True):
    lines = [json.dumps(o) for o in objects]
    if summary:
        lines.append(json.dumps({"exportedCount": len(objects), "missingRefCount": 0, "missingReferences": []}))
    return "\n".join(lines) + "\n"


def multipart(content, filename="dashboards.ndjson", name="file"):
    if isinstance(content, str):
        content = content.encode()
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/ndjson\r\n\r\n").encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()


def import_(os_, content, query="overwrite=true", headers=XSRF, **kw):
    path = f"{API}/_import" + (f"?{query}" if query else "")
    return os_.req("POST", path, multipart(content, **kw), ctype=f"multipart/form-data; boundary={BOUNDARY}",
                   headers=headers)


def find(os_, otype):
    status, body = os_.req("GET", f"{API}/_find?type={otype}&per_page=1000")
    assert status == 200, body
    return body["saved_objects"]


def stored(os_):
    """Every stored saved object as (type, id) -> (attributes, references)."""
    out = {}
    for t in ("index-pattern", "search", "visualization", "dashboard"):
        for o in find(os_, t):
            out[(o["type"], o["id"])] = (o["attributes"], o["references"])
    return out


def by_id(objects, oid):
    (o,) = [o for o in objects if o["id"] == oid]
    return o


def mapping_types():
    """Every field path of the index template, multi-fields included, with its type."""
    out = {}

    def walk(props, prefix=""):
        for name, m in props.items():
            path = prefix + name
            out[path] = m.get("type", "object")
            for sub, sm in m.get("fields", {}).items():
                out[f"{path}.{sub}"] = sm["type"]
            if "properties" in m:
                walk(m["properties"], path + ".")
    walk(json.loads(TEMPLATE.read_text())["template"]["mappings"]["properties"])
    return out


def kql_fields(query):
    """The field names a KQL query names (`field:` and `field >=` forms)."""
    return set(re.findall(r"([A-Za-z_][\w.]*)\s*(?::|>=|<=|>|<)", query))


def field_problems(obj, types):
    """Why a saved search or visualization cannot work on the template's
    mappings: unknown fields, aggregations on non-aggregatable ones, a
    date_histogram off a date, numbers aggregated off a number."""
    problems = []

    def need(field, allowed, what):
        t = types.get(field)
        if t is None:
            problems.append(f"{what}: {field} is not in the index template")
        elif allowed is not None and t not in allowed:
            problems.append(f"{what}: {field} is {t}, not one of {sorted(allowed)}")
    attrs = obj["attributes"]
    source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
    for f in kql_fields(source.get("query", {}).get("query", "")):
        need(f, None, "query")
    if obj["type"] == "search":
        for c in attrs["columns"]:
            need(c, None, "column")
        for f, _ in attrs["sort"]:
            need(f, AGGREGATABLE, "sort")
        return problems
    vis = json.loads(attrs["visState"])
    for a in vis["aggs"]:
        field = a["params"].get("field")
        if a["type"] == "date_histogram":
            need(field, {"date"}, "date_histogram")
        elif a["type"] in ("percentiles", "avg", "sum", "min", "max", "range", "histogram"):
            need(field, NUMERIC, a["type"])
        elif field is not None:
            need(field, AGGREGATABLE, a["type"])
        order = a["params"].get("orderAgg")
        if order and order["params"].get("field"):
            need(order["params"]["field"], AGGREGATABLE, "orderAgg")
    if vis["type"] == "metrics":  # TSVB: fields and queries live in params
        p = vis["params"]
        need(p["time_field"], {"date"}, "TSVB time_field")
        for s in p["series"]:
            if s.get("split_mode") == "terms":
                need(s["terms_field"], AGGREGATABLE, "TSVB terms_field")
            for m in s["metrics"]:
                if m.get("field"):
                    need(m["field"], NUMERIC, f"TSVB {m['type']}")
                for side in ("numerator", "denominator"):
                    for f in kql_fields(m.get(side, {}).get("query", "")):
                        need(f, None, f"TSVB {side}")
    return problems


@pytest.fixture(scope="module")
def shared():
    m = Mock()
    yield m
    m.stop()


@pytest.fixture
def os_(shared):
    assert shared.req("POST", "/_mock/reset")[0] == 200
    return shared


# ---------------------------------------------------------------- the shipped file
def test_the_file_is_an_osd_2_export():
    lines = shipped_lines()
    objs = [json.loads(line) for line in lines]
    *objects, summary = objs
    assert summary == {"exportedCount": len(objects), "missingRefCount": 0, "missingReferences": []}
    kinds = [o["type"] for o in objects]
    assert kinds.count("index-pattern") == 1 and kinds.count("search") == 2 and kinds.count("dashboard") == 1
    assert kinds.count("visualization") >= 5
    ids = {(o["type"], o["id"]) for o in objects}
    assert len(ids) == len(objects)
    for o in objects:
        assert set(o) == {"attributes", "id", "migrationVersion", "references", "type"}, o["id"]
        assert o["id"].startswith("loglake-"), o["id"]
        assert o["migrationVersion"] == {o["type"]: OSD_MIGRATIONS[o["type"]]}
        for r in o["references"]:
            assert (r["type"], r["id"]) in ids, f"{o['id']} refers to {r}, which the file does not have"
        meta = o["attributes"].get("kibanaSavedObjectMeta")
        if meta:
            assert isinstance(meta["searchSourceJSON"], str)  # as Dashboards stores it
            source = json.loads(meta["searchSourceJSON"])
            if "indexRefName" in source:
                assert {"name": source["indexRefName"], "type": "index-pattern", "id": "loglake-logs"} \
                    in o["references"]


def test_the_index_pattern_covers_the_template_with_ts_as_time_field():
    (pattern,) = [o for o in shipped_objects() if o["type"] == "index-pattern"]
    template = json.loads(TEMPLATE.read_text())
    assert pattern["id"] == "loglake-logs"
    assert pattern["attributes"]["title"] in template["index_patterns"]
    assert pattern["attributes"]["timeFieldName"] == "ts"
    assert mapping_types()["ts"] == "date"


def test_logs_star_appears_only_where_a_custom_prefix_replaces_it():
    # `loglake search setup` and Terraform replace the text `logs-*` by the
    # configured pattern: it must name indices and nothing else.
    assert NDJSON.read_text().count("logs-*") == 2
    places = []
    for o in shipped_objects():
        if o["type"] == "index-pattern":
            places.append(o["attributes"]["title"])
        elif o["type"] == "visualization":
            vis = json.loads(o["attributes"]["visState"])
            if vis["type"] == "metrics":
                places.append(vis["params"]["index_pattern"])
    assert places == ["logs-*", "logs-*"]


def test_searches_and_visualizations_use_fields_the_template_maps_aggregatable():
    types = mapping_types()
    checked = 0
    for o in shipped_objects():
        if o["type"] in ("search", "visualization"):
            assert field_problems(o, types) == [], o["id"]
            checked += 1
    assert checked >= 7
    tsvb = [o for o in shipped_objects() if o["type"] == "visualization"
            and json.loads(o["attributes"]["visState"])["type"] == "metrics"]
    for o in tsvb:  # TSVB names its indices itself, not through the index pattern
        assert json.loads(o["attributes"]["visState"])["params"]["index_pattern"] in \
            json.loads(TEMPLATE.read_text())["index_patterns"]


def test_the_field_check_finds_what_would_break():
    types = mapping_types()
    objects = shipped_objects()
    p95 = json.loads(json.dumps(by_id(objects, "loglake-p95-latency-per-service")))
    vis = json.loads(p95["attributes"]["visState"])
    vis["aggs"][0]["params"]["field"] = "latency"  # not mapped
    vis["aggs"][2]["params"]["field"] = "message"  # text: not aggregatable
    vis["aggs"][1]["params"]["field"] = "bytes_sent"  # a number, not a date
    p95["attributes"]["visState"] = json.dumps(vis)
    assert len(field_problems(p95, types)) == 3
    errors = json.loads(json.dumps(by_id(objects, "loglake-errors-by-service")))
    errors["attributes"]["columns"].append("stack_trace")
    source = json.loads(errors["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    source["query"]["query"] = "severity:ERROR"
    errors["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"] = json.dumps(source)
    assert len(field_problems(errors, types)) == 2


def test_the_visualizations_are_the_ones_asked_for():
    objects = shipped_objects()

    def state(oid):
        return json.loads(by_id(objects, oid)["attributes"]["visState"])
    per_minute = state("loglake-records-per-minute-by-level")
    assert per_minute["params"]["seriesParams"][0]["mode"] == "stacked"
    assert [(a["type"], a["params"].get("field"), a["params"].get("interval")) for a in per_minute["aggs"]] == \
        [("count", None, None), ("date_histogram", "ts", "m"), ("terms", "level", None)]
    rate = state("loglake-error-rate-per-service")["params"]["series"][0]
    assert rate["split_mode"] == "terms" and rate["terms_field"] == "service"
    assert rate["metrics"][0]["type"] == "filter_ratio" and "ERROR" in rate["metrics"][0]["numerator"]["query"]
    p95 = state("loglake-p95-latency-per-service")
    assert p95["type"] == "line" and p95["aggs"][0]["params"] == {"field": "latency_ms", "percents": [95]}
    assert p95["aggs"][2]["params"]["field"] == "service"
    top = by_id(objects, "loglake-top-error-messages")
    assert state("loglake-top-error-messages")["aggs"][1]["params"]["field"] == "message.raw"
    assert "ERROR" in json.loads(top["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
    assert state("loglake-http-status-mix")["aggs"][1]["params"]["field"] == "http_status"
    slow = by_id(objects, "loglake-slow-requests")["attributes"]
    assert slow["columns"] == ["service", "http_path", "latency_ms", "http_status"]
    assert json.loads(slow["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"] == "latency_ms >= 1000"
    errors = by_id(objects, "loglake-errors-by-service")["attributes"]
    assert errors["columns"] == ["service", "message", "error_type", "trace_id"]


def test_the_dashboard_places_every_search_and_visualization_without_overlap():
    objects = shipped_objects()
    dash = by_id(objects, "loglake-overview")
    panels = json.loads(dash["attributes"]["panelsJSON"])
    refs = {r["name"]: (r["type"], r["id"]) for r in dash["references"]}
    assert [p["panelRefName"] for p in panels] == [f"panel_{n}" for n in range(len(panels))]
    assert sorted(refs[p["panelRefName"]] for p in panels) == \
        sorted((o["type"], o["id"]) for o in objects if o["type"] in ("search", "visualization"))
    cells = set()
    for p in panels:
        g = p["gridData"]
        assert g["x"] + g["w"] <= 48
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"{p['panelRefName']} overlaps another panel"
        cells |= mine


# ---------------------------------------------------------------- importing it
def test_the_shipped_file_imports(os_):
    status, resp = import_(os_, NDJSON.read_bytes())
    assert status == 200, resp
    objects = shipped_objects()
    assert resp["success"] is True and resp["successCount"] == len(objects) and "errors" not in resp
    assert sorted((r["type"], r["id"]) for r in resp["successResults"]) == sorted((o["type"], o["id"]) for o in objects)
    assert by_id(resp["successResults"], "loglake-overview")["meta"] == {"title": "loglake: overview",
                                                                         "icon": "dashboardApp"}
    for o in objects:
        status, got = os_.req("GET", f"{API}/{o['type']}/{o['id']}")
        assert status == 200, got
        assert got["attributes"] == o["attributes"] and got["references"] == o["references"]
    assert len(find(os_, "visualization")) == sum(o["type"] == "visualization" for o in objects)
    assert [o["id"] for o in find(os_, "dashboard")] == ["loglake-overview"]
    status, missing = os_.req("GET", f"{API}/dashboard/nope")
    assert status == 404 and missing == {"statusCode": 404, "error": "Not Found",
                                         "message": "Saved object [dashboard/nope] not found"}


def test_importing_twice_with_overwrite_is_idempotent(os_):
    assert import_(os_, NDJSON.read_bytes())[1]["success"] is True
    first = stored(os_)
    status, resp = import_(os_, NDJSON.read_bytes())
    assert status == 200 and resp["success"] is True and resp["successCount"] == len(first)
    assert all(r.get("overwrite") is True for r in resp["successResults"])
    assert stored(os_) == first


def test_importing_twice_without_overwrite_reports_conflicts(os_):
    assert import_(os_, NDJSON.read_bytes())[1]["success"] is True
    before = stored(os_)
    status, resp = import_(os_, NDJSON.read_bytes(), query=None)
    assert status == 200 and resp["success"] is False and resp["successCount"] == 0
    assert {(e["type"], e["id"]) for e in resp["errors"]} == set(before)
    assert {e["error"]["type"] for e in resp["errors"]} == {"conflict"}
    assert stored(os_) == before


def test_create_new_copies_remaps_references(os_):
    assert import_(os_, NDJSON.read_bytes())[1]["success"] is True
    status, resp = import_(os_, NDJSON.read_bytes(), query="createNewCopies=true")
    assert status == 200 and resp["success"] is True
    new = {(r["type"], r["id"]): r["destinationId"] for r in resp["successResults"]}
    (dash,) = [o for o in find(os_, "dashboard") if o["id"] == new[("dashboard", "loglake-overview")]]
    assert {r["id"] for r in dash["references"]} <= set(new.values())
    assert len(stored(os_)) == 2 * len(new)


# ---------------------------------------------------------------- malformed files are refused
def edited(oid, change):
    objects = json.loads(json.dumps(shipped_objects()))
    change(by_id(objects, oid))
    return ndjson(objects)


def drop_visstate(o):
    del o["attributes"]["visState"]


def drop_panel_reference(o):
    o["references"] = [r for r in o["references"] if r["name"] != "panel_3"]


def bad_json_line():
    lines = shipped_lines()
    lines[2] = lines[2][:-1]  # an unterminated object
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("content, words", [
    (bad_json_line, ["line 3"]),
    (lambda: edited("loglake-http-status-mix", drop_visstate), ["visState is missing", "loglake-http-status-mix"]),
    (lambda: edited("loglake-overview", drop_panel_reference), ["panel_3", "not in references"]),
    (lambda: edited("loglake-overview", lambda o: o["attributes"].update(panelsJSON="[{")), ["panelsJSON"]),
    (lambda: edited("loglake-p95-latency-per-service", lambda o: o["attributes"].update(
        visState=json.dumps({"title": "x", "type": "line", "params": {}}))), ["visState.aggs"]),
    (lambda: edited("loglake-slow-requests", lambda o: o["attributes"].pop("title")), ["title"]),
    (lambda: edited("loglake-logs", lambda o: o.update(coreMigrationVersion="7.17.0")), ["coreMigrationVersion"]),
    (lambda: edited("loglake-logs", lambda o: o.update(migrationVersion={"index-pattern": "8.0.0"})),
     ["more recent version"]),
    (lambda: ndjson(shipped_objects() + shipped_objects()[:1]), ["Non-unique", "index-pattern:loglake-logs"]),
])
def test_a_malformed_file_is_refused_whole(os_, content, words):
    status, resp = import_(os_, content())
    assert status == 400, resp
    assert resp["statusCode"] == 400 and resp["error"] == "Bad Request"
    for w in words:
        assert w in resp["message"], resp
    assert stored(os_) == {}


def test_the_request_itself_is_checked(os_):
    body = NDJSON.read_bytes()
    assert import_(os_, body, headers={}) == (400, {
        "statusCode": 400, "error": "Bad Request", "message": "Request must contain a osd-xsrf header."})
    assert import_(os_, body, query="overwrite=true&refresh=true")[1]["message"] == \
        "[request query.refresh]: definition for this key is missing"
    assert import_(os_, body, query="overwrite=true&createNewCopies=true")[1]["message"] == \
        "[request query]: cannot use [overwrite] with [createNewCopies]"
    assert import_(os_, body, filename="dashboards.json") == (400, {
        "statusCode": 400, "error": "Bad Request", "message": "Invalid file extension .json"})
    assert import_(os_, body, name="upload")[0] == 400
    status, resp = os_.req("POST", f"{API}/_import?overwrite=true", body, ctype="application/ndjson", headers=XSRF)
    assert status == 415 and resp["error"] == "Unsupported Media Type"
    truncated = multipart(body)[:-len(f"--{BOUNDARY}--\r\n")]
    status, resp = os_.req("POST", f"{API}/_import", truncated, ctype=f"multipart/form-data; boundary={BOUNDARY}",
                           headers=XSRF)
    assert status == 400 and "closing boundary" in resp["message"]
    assert os_.req("GET", f"{API}/_find?per_page=5")[0] == 400  # type is required
    assert os_.req("GET", "/_dashboards/api/status")[0] == 404
    assert stored(os_) == {}


def test_unresolvable_references_fail_per_object(os_):
    objects = json.loads(json.dumps(shipped_objects()))
    objects = [o for o in objects if o["id"] != "loglake-http-status-mix"]  # the dashboard still shows it
    status, resp = import_(os_, ndjson(objects))
    assert status == 200 and resp["success"] is False
    (err,) = resp["errors"]
    assert err["id"] == "loglake-overview" and err["type"] == "dashboard" and err["title"] == "loglake: overview"
    assert err["error"] == {"type": "missing_references",
                            "references": [{"type": "visualization", "id": "loglake-http-status-mix"}]}
    assert resp["successCount"] == len(objects) - 1
    assert os_.req("GET", f"{API}/dashboard/loglake-overview")[0] == 404
    # Once the visualization is there, the same dashboard imports.
    only_vis = [o for o in shipped_objects() if o["id"] == "loglake-http-status-mix"]
    assert import_(os_, ndjson(only_vis))[1]["success"] is True
    assert import_(os_, ndjson(objects))[1]["success"] is True
    assert os_.req("GET", f"{API}/dashboard/loglake-overview")[0] == 200


def test_an_index_pattern_neither_in_the_file_nor_stored_is_missing(os_):
    objects = [o for o in shipped_objects() if o["type"] == "search"]
    status, resp = import_(os_, ndjson(objects))
    assert status == 200 and resp["success"] is False and resp["successCount"] == 0
    assert {e["error"]["type"] for e in resp["errors"]} == {"missing_references"}
    assert all(e["error"]["references"] == [{"type": "index-pattern", "id": "loglake-logs"}] for e in resp["errors"])


def test_unsupported_types_fail_per_object(os_):
    objects = shipped_objects()[:1] + [{"type": "lens", "id": "loglake-x", "attributes": {"title": "x"},
                                        "references": []}]
    status, resp = import_(os_, ndjson(objects))
    assert status == 200 and resp["success"] is False and resp["successCount"] == 1
    assert resp["errors"][0]["error"] == {"type": "unsupported_type"}


def test_find_pages(os_):
    assert import_(os_, NDJSON.read_bytes())[1]["success"] is True
    q = urllib.parse.urlencode([("type", "search"), ("type", "dashboard"), ("per_page", "2"), ("page", "2")])
    status, body = os_.req("GET", f"{API}/_find?{q}")
    assert status == 200 and body["total"] == 3 and body["page"] == 2 and len(body["saved_objects"]) == 1


# ---------------------------------------------------------------- Terraform's import
def terraform_import_script():
    """The local-exec script of infra/modules/search-setup's terraform_data,
    as Terraform hands it to bash (heredoc indentation and $${ escapes
    undone)."""
    doc = hcl2.load((ROOT / "infra" / "modules" / "search-setup" / "main.tf").open())
    (block,) = [b for b in doc["resource"] if '"terraform_data"' in b]
    (provisioner,) = block['"terraform_data"']['"dashboards"']["provisioner"]
    command = provisioner['"local-exec"']["command"].strip('"')
    first, _, rest = command.partition("\n")
    assert first == "<<-EOT" and rest.rstrip().endswith("EOT"), command[:40]
    script = textwrap.dedent(rest.rstrip()[:-3])
    assert "%{" not in script
    return script.replace("$${", "${")


def curl_signs_sigv4():
    if shutil.which("curl") is None or shutil.which("bash") is None:
        return False
    return "--aws-sigv4" in subprocess.run(["curl", "--help", "all"], capture_output=True, text=True).stdout


class SignedReads:
    """GETs to a --sigv4 test server, signed with botocore."""

    def __init__(self, mock, key, secret):
        self.mock, self.key, self.secret = mock, key, secret

    def req(self, method, path):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        r = AWSRequest(method=method, url=self.mock.url + path, data=b"")
        SigV4Auth(Credentials(self.key, self.secret), "es", "eu-west-1").add_auth(r)
        return self.mock.req(method, path, ctype=None, headers=dict(r.headers.items()))


@pytest.mark.skipif(not curl_signs_sigv4(), reason="needs bash and curl >= 7.75 (--aws-sigv4)")
def test_terraform_imports_with_curl_sigv4_idempotently():
    m = Mock("--sigv4", "AKIDLOGLAKE:secret/key:eu-west-1:es")
    reads = SignedReads(m, "AKIDLOGLAKE", "secret/key")
    try:
        def run(dashboards):
            env = {"PATH": os.environ["PATH"], "ENDPOINT": m.url, "REGION": "eu-west-1", "DASHBOARDS": dashboards,
                   "AWS_ACCESS_KEY_ID": "AKIDLOGLAKE", "AWS_SECRET_ACCESS_KEY": "secret/key",
                   "AWS_SESSION_TOKEN": "session-token"}
            return subprocess.run(["bash", "-c", terraform_import_script()], env=env, capture_output=True,
                                  text=True, timeout=60)
        # What the module passes with the default prefix, logs-: the file as it is.
        text = NDJSON.read_text()
        first = run(text)
        assert first.returncode == 0, first.stderr
        assert '"success":true' in first.stdout
        objects = stored(reads)
        assert objects == {
            (o["type"], o["id"]): (o["attributes"], o["references"]) for o in shipped_objects()}
        again = run(text)
        assert again.returncode == 0, again.stderr
        assert stored(reads) == objects
        st = m.stats()
        assert st["auth_failures"] == 0 and st["sigv4_verified"] == 2 + 2 * 4  # two imports, two stored() reads
        broken = run(edited("loglake-overview", drop_panel_reference))
        assert broken.returncode != 0
        assert "/_dashboards/api/saved_objects/_import?overwrite=true" in broken.stderr
        assert "panel_3" in broken.stderr
        assert stored(reads) == objects
    finally:
        m.stop()
