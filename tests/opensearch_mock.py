#!/usr/bin/env python3
"""Strict, in-memory OpenSearch 2.17 test server for loglake's tests.

Stdlib only (botocore is imported lazily, for --sigv4 only).

    python tests/opensearch_mock.py [--port 0] [--sigv4 AK:SK:REGION:SERVICE]
        [--basic USER:PASS] [--exit-on-stdin-eof] [--verbose]

Binds 127.0.0.1 only, prints exactly one line ``READY http://127.0.0.1:<port>``
to stdout, serves until SIGTERM/SIGINT (or stdin EOF with --exit-on-stdin-eof).
HTTP/1.1 keep-alive, Content-Length or chunked request bodies, gzip/deflate
``Content-Encoding``. All state lives behind one lock; search is real-time.

Implemented, following the OpenSearch docs (REST API reference, "Bulk",
"Index templates", "Component templates", "ISM API", "Mappings and field
types", "Dynamic mapping", "Query DSL") and the error bodies OpenSearch sends:

* ``GET /`` cluster info; ``GET /_cluster/health``.
* ``POST|PUT /_bulk``, ``/{index}/_bulk``: NDJSON framing (terminating newline,
  action + source lines, ``create|index|update|delete``, unknown metadata
  keys rejected as in BulkRequestParser), per-item results with OpenSearch's
  item shape, versions, seq_no, 409 on ``create`` of an existing id,
  ``if_seq_no``/``if_primary_term``, update with ``doc``/``upsert``/
  ``doc_as_upsert``/noop detection, invalid index names, ``_id`` > 512 bytes.
* Single-document APIs: ``/{index}/_doc[/{id}]``, ``/{index}/_create/{id}``.
* Index auto-creation from composable index templates (highest priority
  match, ``composed_of`` component templates, settings, aliases) and data
  streams (``data_stream: {}`` templates: backing index ``.ds-<name>-000001``,
  op_type create only, ``@timestamp`` required).
* Mappings: structural validation ("No handler for type", "unknown
  parameter", root parameters), per-document type validation (keyword/text,
  integer family with ranges, floats, boolean, date with ``format``, ip,
  object/nested, flat_object, ``ignore_malformed``, ``enabled: false``),
  ``dynamic`` true/false/strict/strict_allow_templates, dynamic type
  inference with date detection and ``dynamic_templates``, conflicts,
  ``index.mapping.total_fields.limit`` (default 1000) and depth limit (20).
  A failing document leaves no mapping changes behind.
* ``_index_template``, ``_component_template`` (PUT/POST/GET/HEAD/DELETE), with
  the same-priority overlapping-pattern rejection OpenSearch does.
* ISM: ``/_plugins/_ism/policies[/{id}]`` (also ``_opendistro``) with state /
  transition / action validation and seq_no/primary_term concurrency control.
* ``/{expr}/_search`` and ``_count`` (comma lists, ``*`` globs, ``-`` exclusions,
  ``_all``, aliases, data streams, ``ignore_unavailable``): match_all,
  match_none, term, terms, ids, range (numbers, dates incl. ``now-1d``,
  strings, ips), exists, prefix, match, bool; size/from (result window
  10000), sort, ``_source`` filtering, track_total_hits, rest_total_hits_as_int.
  Fields that are unmapped (``dynamic: false``) or ``index: false`` never match.
* ``PUT|GET /{index}``, ``HEAD|DELETE /{index}``, ``/{index}/_mapping`` (GET/PUT),
  ``/{index}/_settings``, ``/{index}/_refresh``, ``/_cat/indices`` (text or
  ``format=json``; values are strings as in OpenSearch).
* OpenSearch Dashboards saved objects under ``/_dashboards`` (where Amazon
  OpenSearch Service serves Dashboards, with the domain's auth), following
  the OSD 2.x saved objects API and its error bodies
  (``{"statusCode", "error", "message"}``):
  ``POST /_dashboards/api/saved_objects/_import[?overwrite=true|createNewCopies=true]``
  (needs an ``osd-xsrf`` or ``osd-version`` header; ``multipart/form-data``
  with one ``file`` part named ``*.ndjson``; other query parameters 400;
  the export summary line skipped; duplicate objects, bad JSON and bad
  objects 400; unknown types, references to objects neither in the file nor
  stored (``missing_references``) and existing objects without overwrite
  (``conflict``) are per-object errors with ``success: false``, the other
  objects are stored); ``GET /_dashboards/api/saved_objects/{type}/{id}``
  (404 when missing); ``GET /_dashboards/api/saved_objects/_find?type=X
  [&type=Y][&per_page=N][&page=N]``. Other ``/_dashboards`` paths 404.
* Unknown query parameters -> 400 "contains unrecognized parameter"; unknown
  endpoints -> 400 "no handler found"; wrong method -> 405; bad
  Content-Type -> 406; ``filter_path`` and ``pretty`` are honoured.
* Auth: ``--basic`` (401 ``Unauthorized`` + WWW-Authenticate like the security
  plugin) and ``--sigv4`` (recomputed with botocore over exactly the signed
  headers; x-amz-content-sha256 checked against the wire body; 5 min skew).

Deliberate deviations (stricter than OpenSearch, to catch client bugs): an
action line without a source line is a 400 (OpenSearch silently drops it);
integer fields reject fractional numbers (OpenSearch truncates); things real
OpenSearch supports but this mock doesn't answer 400 ``mock_unsupported_exception``.
Saved objects are checked where Dashboards would store anything and fail only
when it renders them: per type the attributes it needs (a title;
visState/panelsJSON/searchSourceJSON/uiStateJSON/optionsJSON/fields as JSON
strings of the right shape; a visualization's aggs; every panelRefName,
indexRefName and savedSearchRefName named in ``references``; panels inside
the 48-column grid), no top-level keys OSD 2.x does not write (e.g. Kibana's
``coreMigrationVersion``), no migrationVersion newer than OSD 2.x knows;
such an object is a 400 naming its line. Every reference is resolved at
import (Dashboards checks only index-pattern and search references there).

Mock-only endpoints (never auth-checked, not counted in stats):

* ``POST /_mock/faults`` replaces all faults::

    {"item_status": [{"match": "<substring of source line or _id>", "status": 429|400|409|500|503, "times": N}],
     "request_status": [{"status": 503|429|500, "times": N}],
     "max_request_bytes": N}

  ``times`` defaults to 1, -1 = forever. Faulted items/requests store nothing.
  ``max_request_bytes`` answers oversized bulk bodies (wire size) with 413 and
  closes the connection. ``GET /_mock/faults`` shows what is left.
* ``GET /_mock/stats``: requests, bulk_requests, bulk_request_bytes (wire sizes,
  one per bulk request incl. rejected ones), bulk_items, item_attempts
  ({"index/id": n}), statuses (bulk *item* statuses), http_statuses,
  sigv4_verified, auth_failures, content_encodings, faulted_requests,
  faulted_items, docs ({index: n}), mapped_fields ({index: n}).
* ``POST /_mock/reset`` clears documents, templates, policies, saved objects,
  faults, stats.
* ``GET /_mock/fields/{index}``: {"index", "count", "fields": [mapped paths]}.
"""
import argparse
import base64
import copy
import datetime as dt
import gzip
import hashlib
import hmac
import ipaddress
import json
import math
import re
import secrets
import signal
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

VERSION = "2.17.0"
PRIMARY_TERM = 1
SHARDS = {"total": 2, "successful": 1, "failed": 0}


# --------------------------------------------------------------------------- errors
class ApiError(Exception):
    """A whole-request error: HTTP status + JSON body."""

    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def os_error(status, etype, reason, **extra):
    cause = {"type": etype, "reason": reason, **extra}
    return ApiError(status, {"error": {"root_cause": [dict(cause)], **cause}, "status": status})


def unsupported(what):
    return os_error(400, "mock_unsupported_exception", f"opensearch_mock does not implement {what}")


class DocError(Exception):
    """A per-document (bulk item) error."""

    def __init__(self, status, etype, reason, **extra):
        super().__init__(reason)
        self.status, self.etype, self.reason, self.extra = status, etype, reason, extra

    def body(self, index=None, uuid=None):
        b = {"type": self.etype, "reason": self.reason, **self.extra}
        if index is not None and "index" not in b:
            b.update(index=index, shard="0", index_uuid=uuid)
        return b


def mapper_error(reason, **extra):
    return DocError(400, "mapper_parsing_exception", reason, **extra)


def new_uuid(n=22):
    return base64.urlsafe_b64encode(secrets.token_bytes(n)).decode()[:n]


def strict_json(text):
    """json.loads that rejects duplicate keys and NaN/Infinity like OpenSearch's parser."""
    def pairs(kv):
        d = {}
        for k, v in kv:
            if k in d:
                raise ValueError(f"Duplicate field '{k}'")
            d[k] = v
        return d

    def bad_const(c):
        raise ValueError(f"Non-standard token '{c}'")
    return json.loads(text, object_pairs_hook=pairs, parse_constant=bad_const)


def simple_match(pattern, s):
    """OpenSearch Regex.simpleMatch: only '*' is special."""
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), s, re.S) is not None


# --------------------------------------------------------------------------- dates
_ISO = re.compile(r"([+-]?\d{1,9})(?:-(\d{1,2})(?:-(\d{1,2})(?:T(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})"
                  r"(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?")
_NAMED_DATE = {"strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos",
               "strict_date_time", "date_time", "strict_date_time_no_millis", "date_time_no_millis",
               "strict_date", "date", "strict_date_hour_minute_second", "date_hour_minute_second",
               "basic_date", "basic_date_time", "basic_date_time_no_millis", "epoch_millis",
               "epoch_second", "strict_year_month", "year_month", "strict_year", "year"}
DEFAULT_DATE_FORMAT = "strict_date_optional_time||epoch_millis"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_JAVA_TOKENS = [("yyyy", r"(?P<Y>\d{4})"), ("uuuu", r"(?P<Y>\d{4})"), ("MM", r"(?P<M>\d{2})"),
                ("dd", r"(?P<D>\d{2})"), ("HH", r"(?P<h>\d{2})"), ("mm", r"(?P<m>\d{2})"),
                ("ss", r"(?P<s>\d{2})"), ("XXX", r"(?P<z>Z|[+-]\d{2}:\d{2})"),
                ("xxx", r"(?P<z>[+-]\d{2}:\d{2})"), ("Z", r"(?P<z>[+-]\d{4})"), ("X", r"(?P<z>Z|[+-]\d{2,4})")]


def _java_regex(pattern):
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            j = pattern.index("'", i + 1)
            out += re.escape(pattern[i + 1:j]) or "'"
            i = j + 1
            continue
        if c == "S":
            n = len(pattern) - len(pattern[i:].lstrip("S"))
            out += r"(?P<f>\d{%d})" % n
            i += n
            continue
        for tok, rx in _JAVA_TOKENS:
            if pattern.startswith(tok, i):
                out += rx
                i += len(tok)
                break
        else:
            if c.isalpha():
                raise ValueError(f"Invalid format: [{pattern}]: Unsupported pattern letter [{c}]")
            out += re.escape(c)
            i += 1
    return re.compile(out)


def _mk_dt(y, mo=1, d=1, h=0, mi=0, s=0, frac=None, zone=None):
    tz = dt.timezone.utc
    if zone and zone != "Z":
        z = zone.replace(":", "")
        off = int(z[1:3]) * 60 + (int(z[3:5]) if len(z) >= 5 else 0)
        tz = dt.timezone(dt.timedelta(minutes=off if z[0] == "+" else -off))
    micro = int((frac or "0").ljust(6, "0")[:6])
    t = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=tz)
    return (t - EPOCH) // dt.timedelta(milliseconds=1)


def _parse_one(value, fmt):
    if fmt in ("epoch_millis", "epoch_second"):
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, str):
            if not re.fullmatch(r"-?\d+(\.\d+)?", value):
                raise ValueError
            value = float(value)
        return int(value * (1000 if fmt == "epoch_second" else 1))
    if not isinstance(value, str):
        raise ValueError
    if fmt in _NAMED_DATE:
        if fmt.startswith("basic_date"):
            m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(?:\.(\d{3}))?(Z|[+-]\d{2}:?\d{2}))?", value)
            if not m or (fmt == "basic_date") != (m.group(4) is None):
                raise ValueError
            return _mk_dt(*m.groups())
        m = _ISO.fullmatch(value)
        if not m:
            raise ValueError
        y, mo, d, h, mi, s, frac, zone = m.groups()
        strict = fmt.startswith("strict") or fmt.endswith("_nanos")
        if strict and (len(y) != 4 or any(g is not None and len(g) != 2 for g in (mo, d, h, mi, s))):
            raise ValueError
        need_time = fmt in ("strict_date_time", "date_time", "strict_date_time_no_millis", "date_time_no_millis",
                            "strict_date_hour_minute_second", "date_hour_minute_second")
        if fmt in ("strict_date", "date") and (d is None or h is not None):
            raise ValueError
        if need_time and s is None:
            raise ValueError
        if fmt.endswith("year_month") and (mo is None or d is not None) or fmt.endswith("year") and mo is not None:
            raise ValueError
        return _mk_dt(y, mo or 1, d or 1, h or 0, mi or 0, s or 0, frac, zone)
    m = _java_regex(fmt).fullmatch(value)
    if not m:
        raise ValueError
    g = m.groupdict()
    return _mk_dt(g.get("Y") or 1970, g.get("M") or 1, g.get("D") or 1, g.get("h") or 0, g.get("m") or 0,
                  g.get("s") or 0, g.get("f"), g.get("z"))


_NOW = re.compile(r"now((?:[+-]\d+[yMwdhHms])*)(?:/([yMwdhHms]))?")
_UNIT_MS = {"s": 1000, "m": 60000, "h": 3600000, "H": 3600000, "d": 86400000, "w": 604800000,
            "M": 30 * 86400000, "y": 365 * 86400000}


def to_millis(value, fmt=None):
    """Parse a date value per an OpenSearch date format ('a||b'); raises ValueError."""
    if isinstance(value, str) and value.startswith("now"):
        m = _NOW.fullmatch(value)
        if m:
            ms = int(time.time() * 1000)
            for sign, n, unit in re.findall(r"([+-])(\d+)([yMwdhHms])", m.group(1)):
                ms += (1 if sign == "+" else -1) * int(n) * _UNIT_MS[unit]
            if m.group(2):
                ms -= ms % _UNIT_MS[m.group(2)]
            return ms
    for f in (fmt or DEFAULT_DATE_FORMAT).split("||"):
        try:
            return _parse_one(value, f.strip())
        except (ValueError, OverflowError, IndexError):
            continue
    raise ValueError(f"failed to parse date field [{value}] with format [{fmt or DEFAULT_DATE_FORMAT}]")


def check_date_format(fmt):
    for f in fmt.split("||"):
        f = f.strip()
        if f not in _NAMED_DATE:
            if re.fullmatch(r"[a-z_]+", f):
                raise ValueError(f"Invalid format: [{fmt}]: Unknown pattern letter: {f[0]}")
            _java_regex(f)


# --------------------------------------------------------------------------- mappings
INT_TYPES = {"long": 63, "integer": 31, "short": 15, "byte": 7}
FLOAT_TYPES = {"float", "double", "half_float", "scaled_float"}
STRING_TYPES = {"keyword", "text", "match_only_text", "constant_keyword", "wildcard"}
OBJECT_TYPES = {"object", "nested"}
KNOWN_TYPES = STRING_TYPES | set(INT_TYPES) | FLOAT_TYPES | OBJECT_TYPES | {
    "unsigned_long", "boolean", "date", "date_nanos", "ip", "flat_object", "binary", "geo_point", "geo_shape",
    "alias", "knn_vector", "token_count", "integer_range", "long_range", "float_range", "double_range",
    "date_range", "ip_range", "completion", "search_as_you_type", "rank_feature", "rank_features",
    "percolator", "join", "version"}
_COMMON = {"type", "index", "doc_values", "store", "null_value", "meta", "boost", "fields", "copy_to"}
_NUM = _COMMON | {"coerce", "ignore_malformed"}
FIELD_PARAMS = {
    "object": {"type", "properties", "dynamic", "enabled"},
    "nested": {"type", "properties", "dynamic", "enabled", "include_in_parent", "include_in_root"},
    "flat_object": {"type"},
    "keyword": _COMMON | {"ignore_above", "normalizer", "eager_global_ordinals", "index_options", "norms",
                          "similarity", "split_queries_on_whitespace"},
    "text": (_COMMON - {"doc_values", "null_value"}) | {
        "analyzer", "search_analyzer", "search_quote_analyzer", "norms", "index_options", "index_phrases",
        "index_prefixes", "fielddata", "fielddata_frequency_filter", "eager_global_ordinals",
        "position_increment_gap", "similarity", "term_vector"},
    "date": _NUM - {"coerce"} | {"format", "locale", "print_format"},
    "boolean": _COMMON,
    "ip": _COMMON | {"ignore_malformed"},
    **{t: _NUM for t in list(INT_TYPES) + ["unsigned_long", "float", "double", "half_float"]},
    "scaled_float": _NUM | {"scaling_factor"},
}
ROOT_PARAMS = {"properties", "dynamic", "date_detection", "numeric_detection", "dynamic_date_formats",
               "dynamic_templates", "_source", "_routing", "_meta", "_field_names", "enabled"}
DYNAMIC_VALUES = {"true": "true", "false": "false", "strict": "strict", "strict_allow_templates":
                  "strict_allow_templates", "runtime": "true"}


def norm_dynamic(v, where="_doc"):
    key = str(v).lower() if isinstance(v, (bool, str)) else None
    if key not in DYNAMIC_VALUES:
        raise mapper_error(f"Could not convert [{where}.dynamic] to boolean")
    return DYNAMIC_VALUES[key]


def validate_mappings(m):
    """Structural validation of a mappings definition (raises ApiError 400); returns a normalized copy."""
    if not isinstance(m, dict):
        raise os_error(400, "mapper_parsing_exception", "Failed to parse mapping: expected a map")
    m = copy.deepcopy(m)
    if len(m) == 1 and isinstance(m.get("_doc"), dict):
        m = m["_doc"]
    bad = [f"{k} : {json.dumps(v)}" for k, v in m.items() if k not in ROOT_PARAMS]
    if bad:
        raise os_error(400, "mapper_parsing_exception",
                       f"Root mapping definition has unsupported parameters:  [{', '.join(bad)}]")
    try:
        if "dynamic" in m:
            norm_dynamic(m["dynamic"])
        for tpl in m.get("dynamic_templates", []):
            if not isinstance(tpl, dict) or len(tpl) != 1 or not isinstance(next(iter(tpl.values())), dict) \
                    or "mapping" not in next(iter(tpl.values())):
                raise mapper_error(f"Illegal dynamic template parameter: [{json.dumps(tpl)}]")
        _validate_props(m.get("properties", {}), "")
    except DocError as e:
        raise os_error(400, "mapper_parsing_exception", f"Failed to parse mapping [_doc]: {e.reason}",
                       caused_by={"type": e.etype, "reason": e.reason})
    return m


def _validate_props(props, prefix, multi=False):
    if not isinstance(props, dict):
        raise mapper_error(f"Expected map for property [properties] on field [{prefix.rstrip('.')}]")
    for name, fm in props.items():
        if not isinstance(fm, dict):
            raise mapper_error(f"Expected map for property [fields] on field [{name}] but got a {type(fm).__name__}")
        t = fm.get("type", "object")
        if t not in KNOWN_TYPES:
            raise mapper_error(f"No handler for type [{t}] declared on field [{name}]")
        if multi and ("properties" in fm or t in OBJECT_TYPES):
            raise mapper_error(f"Type [{t}] cannot be used in multi field")
        allowed = FIELD_PARAMS.get(t)
        for p in fm:
            if allowed is not None and p not in allowed:
                raise mapper_error(f"unknown parameter [{p}] on mapper [{name}] of type [{t}]")
        if "dynamic" in fm:
            norm_dynamic(fm["dynamic"], name)
        if t == "scaled_float" and "scaling_factor" not in fm:
            raise mapper_error("Field [scaling_factor] is required")
        if t == "alias" and "path" not in fm:
            raise mapper_error(f"The [path] property must be specified for field [{name}].")
        if "format" in fm:
            try:
                check_date_format(fm["format"])
            except (ValueError, IndexError) as e:
                raise mapper_error(str(e) or f"Invalid format: [{fm['format']}]")
        if "properties" in fm:
            _validate_props(fm["properties"], prefix + name + ".")
        if "fields" in fm:
            _validate_props(fm["fields"], prefix + name + ".", multi=True)


def merge_mappings(base, over):
    """Merge two mapping definitions (templates, component templates, PUT _mapping)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if k == "properties":
            props = out.setdefault("properties", {})
            for name, fm in v.items():
                old = props.get(name)
                if old is None:
                    props[name] = copy.deepcopy(fm)
                    continue
                ot, nt = old.get("type", "object"), fm.get("type", "object")
                if ot != nt:
                    raise os_error(400, "illegal_argument_exception",
                                   f"mapper [{name}] cannot be changed from type [{ot}] to [{nt}]")
                props[name] = merge_mappings(old, fm)
        else:
            out[k] = copy.deepcopy(v)
    return out


def field_paths(node, prefix=""):
    """All mapped field paths (objects, leaves and multi-fields), as index.mapping.total_fields counts them."""
    for k, fm in node.get("properties", {}).items():
        yield prefix + k
        yield from field_paths(fm, prefix + k + ".")
        for sub in fm.get("fields", {}):
            yield f"{prefix}{k}.{sub}"


def _as_number(v, coerce=True):
    if isinstance(v, bool) or v is None:
        raise ValueError
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str) and coerce:
        n = float(v)  # raises ValueError
        if math.isinf(n) or math.isnan(n) or not re.fullmatch(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*", v):
            raise ValueError
        return int(v) if re.fullmatch(r"\s*[-+]?\d+\s*", v) else n
    raise ValueError


def leaf_ok(t, fm, v):
    if t in STRING_TYPES:
        return isinstance(v, (str, int, float, bool))
    try:
        if t in INT_TYPES or t == "unsigned_long":
            n = _as_number(v, fm.get("coerce", True))
            if isinstance(n, float) and not n.is_integer():
                return False
            n = int(n)
            lo, hi = (0, 2 ** 64 - 1) if t == "unsigned_long" else (-2 ** INT_TYPES[t], 2 ** INT_TYPES[t] - 1)
            return lo <= n <= hi
        if t in FLOAT_TYPES:
            return math.isfinite(_as_number(v, fm.get("coerce", True)))
        if t == "boolean":
            return isinstance(v, bool) or (isinstance(v, str) and v in ("true", "false", ""))
        if t in ("date", "date_nanos"):
            to_millis(v, fm.get("format"))
            return True
        if t == "ip":
            ipaddress.ip_address(v)
            return isinstance(v, str)
    except (ValueError, TypeError):
        return False
    return not isinstance(v, dict) or t in ("geo_point", "geo_shape", "completion", "join", "rank_features")


def _first_non_null(v):
    if isinstance(v, list):
        for x in v:
            r = _first_non_null(x)
            if r is not None:
                return r
        return None
    return v


def _is_date_string(s, root):
    if not root.get("date_detection", True):
        return False
    for f in root.get("dynamic_date_formats", ["strict_date_optional_time", "yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z"]):
        try:
            to_millis(s, f)
            return True
        except ValueError:
            pass
    return False


class DocParser:
    """Validates one document against an index mapping, adding dynamic fields (undo log on failure)."""

    def __init__(self, index, doc_id):
        self.index, self.root, self.doc_id, self.added = index, index.mappings, doc_id, []

    def parse(self, src):
        try:
            self.parse_obj(src, self.root, "", norm_dynamic(self.root.get("dynamic", True)))
            if self.added:
                limit = int(self.index.settings.get("index.mapping.total_fields.limit", 1000))
                if sum(1 for _ in field_paths(self.root)) > limit:
                    raise DocError(400, "illegal_argument_exception", f"Limit of total fields [{limit}] has been exceeded")
        except DocError:
            for props, key in reversed(self.added):
                props.pop(key, None)
            raise

    def infer(self, key, path, sample):
        if isinstance(sample, bool):
            mt, default = "boolean", {"type": "boolean"}
        elif isinstance(sample, int):
            mt, default = "long", {"type": "long"}
        elif isinstance(sample, float):
            mt, default = "double", {"type": "float"}
        elif isinstance(sample, dict):
            mt, default = "object", {"properties": {}}
        elif _is_date_string(sample, self.root):
            mt, default = "date", {"type": "date"}
        elif self.root.get("numeric_detection") and re.fullmatch(r"-?\d+(\.\d+)?", sample):
            mt, default = ("double", {"type": "float"}) if "." in sample else ("long", {"type": "long"})
        else:
            mt, default = "string", {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
        for tpl in self.root.get("dynamic_templates", []):
            spec = next(iter(tpl.values()))
            conds = [("match", key, True), ("unmatch", key, False), ("path_match", path, True),
                     ("path_unmatch", path, False)]
            if any(c in spec and simple_match(spec[c], val) != want for c, val, want in conds):
                continue
            if spec.get("match_mapping_type", "*") not in ("*", mt):
                continue
            dyn_type = {"string": "text", "double": "float"}.get(mt, mt)
            raw = json.dumps(spec["mapping"]).replace("{name}", key).replace("{dynamic_type}", dyn_type)
            mapping = json.loads(raw)
            if "type" not in mapping and mt != "object":
                mapping["type"] = dyn_type
            return mapping, True
        return default, False

    def parse_obj(self, obj, node, path, dyn):
        if node.get("enabled", True) is False:
            return
        dyn = norm_dynamic(node.get("dynamic", dyn), path.rstrip(".") or "_doc")
        props = node.setdefault("properties", {})
        for key, val in obj.items():
            if key.strip() == "":
                raise mapper_error("field name cannot be an empty string")
            parts = key.split(".")
            if "" in parts:
                raise mapper_error(f"object field starting or ending with a [.] makes object resolution ambiguous: [{key}]")
            for p in reversed(parts[1:]):
                val = {p: val}
            key = parts[0]
            fm = props.get(key)
            if fm is None:
                sample = _first_non_null(val)
                if sample is None or dyn == "false":
                    continue
                fm, from_tpl = self.infer(key, path + key, sample)
                if dyn == "strict" or (dyn == "strict_allow_templates" and not from_tpl):
                    raise DocError(400, "strict_dynamic_mapping_exception",
                                   f"mapping set to {dyn}, dynamic introduction of [{key}] within "
                                   f"[{path.rstrip('.') or '_doc'}] is not allowed")
                depth = int(self.index.settings.get("index.mapping.depth.limit", 20))
                if (path + key).count(".") + 1 > depth and "properties" in fm:
                    raise DocError(400, "illegal_argument_exception",
                                   f"Limit of mapping depth [{depth}] has been exceeded due to object field [{path + key}]")
                props[key] = fm
                self.added.append((props, key))
            self.parse_value(val, fm, path + key, dyn)

    def parse_value(self, val, fm, path, dyn):
        if isinstance(val, list):
            for v in val:
                self.parse_value(v, fm, path, dyn)
            return
        if val is None:
            return
        t = fm.get("type", "object")
        if t in OBJECT_TYPES:
            if not isinstance(val, dict):
                raise mapper_error(f"object mapping for [{path}] tried to parse field [{path}] as object, "
                                   f"but found a concrete value")
            self.parse_obj(val, fm, path + ".", dyn)
        elif t == "flat_object":
            if not isinstance(val, dict):
                raise mapper_error(f"[{path}] unexpected token [{type(val).__name__}] in flat_object field value")
        elif t == "alias":
            raise mapper_error(f"Cannot write to a field alias [{path}].")
        elif not leaf_ok(t, fm, val):
            ignore = fm.get("ignore_malformed", self.index.settings.get("index.mapping.ignore_malformed") == "true")
            if isinstance(val, dict) or not ignore:
                preview = json.dumps(val) if isinstance(val, dict) else val
                raise mapper_error(f"failed to parse field [{path}] of type [{t}] in document with id "
                                   f"'{self.doc_id}'. Preview of field's value: '{preview}'")


# --------------------------------------------------------------------------- index state
class Index:
    def __init__(self, name, mappings=None, settings=None, aliases=None, data_stream=None):
        self.name, self.uuid, self.data_stream = name, new_uuid(), data_stream
        self.mappings = mappings or {}
        self.settings = {"index.number_of_shards": "1", "index.number_of_replicas": "1", **(settings or {})}
        self.aliases = aliases or {}
        self.docs, self.tombstones, self.seq_no = {}, {}, -1
        self.created = int(time.time() * 1000)

    def next_seq(self):
        self.seq_no += 1
        return self.seq_no


def flatten_settings(s, prefix=""):
    out = {}
    for k, v in (s or {}).items():
        if isinstance(v, dict):
            out.update(flatten_settings(v, prefix + k + "."))
        else:
            out[prefix + k] = json.dumps(v) if isinstance(v, bool) else str(v) if not isinstance(v, list) else v
    return {(k if k.startswith("index.") else "index." + k): v for k, v in out.items()}


def nest_settings(flat):
    out = {}
    for k, v in flat.items():
        node = out
        parts = k.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def index_name_error(name):
    if name != name.lower():
        return "must be lowercase"
    if name[:1] in ("_", "-", "+"):
        return "must not start with '_', '-', or '+'"
    if any(c in name for c in '\\/*?"<>| ,#'):
        return 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'
    if ":" in name:
        return "must not contain ':'"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    if len(name.encode()) > 255:
        return "index name is too long, (%d > 255)" % len(name.encode())
    return None


# --------------------------------------------------------------------------- queries
def extract(node, parts):
    if isinstance(node, list):
        return [x for e in node for x in extract(e, parts)]
    if not parts:
        return [] if node is None else [node]
    if not isinstance(node, dict):
        return []
    out = []
    for i in range(1, len(parts) + 1):
        k = ".".join(parts[:i])
        if k in node:
            out += extract(node[k], parts[i:])
    return out


def leaves(vals):
    for v in vals:
        if isinstance(v, dict):
            yield from leaves(v.values())
        elif isinstance(v, list):
            yield from leaves(v)
        elif v is not None:
            yield v


def resolve_field(mappings, field, depth=0):
    """-> (type, field_mapping, source_path_parts, is_flat) or None when not searchable."""
    parts, node, i = field.split("."), mappings, 0
    while i < len(parts):
        fm = node.get("properties", {}).get(parts[i])
        if fm is None:
            return None
        i += 1
        t = fm.get("type", "object")
        if t == "alias" and depth < 5:
            return resolve_field(mappings, fm.get("path", ""), depth + 1)
        if t in OBJECT_TYPES:
            if fm.get("enabled", True) is False:
                return None
            node = fm
            continue
        if t == "flat_object":
            return "keyword", {}, parts, True
        if i == len(parts):
            return t, fm, parts, False
        sub = fm.get("fields", {}).get(parts[i])
        if sub is not None and i + 1 == len(parts):
            return sub.get("type", "keyword"), sub, parts[:i], False
        return None
    return None


def kw(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else json.dumps(v)


def tokens(v):
    return re.findall(r"\w+", kw(v).lower())


def shard_error(reason):
    cause = {"type": "query_shard_exception", "reason": reason, "index_uuid": "_na_"}
    return ApiError(400, {"error": {"root_cause": [cause], "type": "search_phase_execution_exception",
                                    "reason": "all shards failed", "phase": "query", "grouped": True,
                                    "failed_shards": [{"shard": 0, "reason": cause}]}, "status": 400})


def sort_key(t, fm, v, fmt=None):
    """Comparable form of a field value (query side or document side)."""
    try:
        if t in INT_TYPES or t in FLOAT_TYPES or t in ("unsigned_long", "token_count"):
            return float(_as_number(v))
        if t in ("date", "date_nanos"):
            return float(to_millis(v, fmt or fm.get("format")))
        if t == "boolean":
            return float(v in (True, "true"))
        if t == "ip":
            return float(int(ipaddress.ip_address(v)))
    except (ValueError, TypeError):
        raise shard_error(f"failed to create query: For input string: \"{v}\"")
    return kw(v)


def _safe_key(t, fm, v):
    try:
        return sort_key(t, fm, v)
    except ApiError:
        return None


Q_NAMES_UNSUPPORTED = {"query_string", "simple_query_string", "wildcard", "regexp", "fuzzy", "nested",
                       "multi_match", "match_phrase", "match_phrase_prefix", "constant_score", "function_score",
                       "dis_max", "geo_distance", "geo_bounding_box", "script", "more_like_this", "knn",
                       "has_child", "has_parent", "intervals", "span_term", "boosting", "terms_set"}


def parse_query(q):
    """Validate the query DSL into (kind, args...) nodes; raises parsing_exception like OpenSearch."""
    if not isinstance(q, dict) or len(q) != 1:
        raise os_error(400, "parsing_exception", "[_na] query malformed, must start with start_object")
    (name, body), = q.items()
    if name in Q_NAMES_UNSUPPORTED:
        raise unsupported(f"the [{name}] query")
    if name in ("match_all", "match_none"):
        return (name,)
    if not isinstance(body, dict):
        raise os_error(400, "parsing_exception", f"[{name}] query malformed, no start_object after query name")
    if name == "bool":
        allowed = {"must", "filter", "should", "must_not", "minimum_should_match", "boost", "_name"}
        bad = set(body) - allowed
        if bad:
            raise os_error(400, "parsing_exception", f"[bool] query does not support [{sorted(bad)[0]}]")
        clauses = {}
        for k in ("must", "filter", "should", "must_not"):
            v = body.get(k, [])
            clauses[k] = [parse_query(x) for x in (v if isinstance(v, list) else [v])]
        msm = body.get("minimum_should_match", 0 if clauses["must"] or clauses["filter"] else 1)
        return ("bool", clauses, int(str(msm).rstrip("%")) if not str(msm).endswith("%") else msm)
    if name == "ids":
        return ("ids", {str(v) for v in body.get("values", [])})
    if name == "exists":
        return ("exists", body.get("field"))
    fields = [k for k in body if k not in ("boost", "_name")]
    if len(fields) != 1:
        raise os_error(400, "parsing_exception", f"[{name}] query doesn't support multiple fields, found "
                                                 f"[{'] and ['.join(fields)}]")
    field, spec = fields[0], body[fields[0]]
    if name == "terms":
        if not isinstance(spec, list):
            raise os_error(400, "parsing_exception", f"[terms] query does not support [{field}]")
        return ("terms", field, spec)
    if name == "range":
        if not isinstance(spec, dict):
            raise os_error(400, "parsing_exception", f"[range] query does not support [{field}]")
        if "time_zone" in spec:
            raise unsupported("range time_zone")
        ops = {k: v for k, v in spec.items() if k in ("gt", "gte", "lt", "lte", "from", "to")}
        return ("range", field, ops, spec.get("format"))
    if name in ("term", "prefix", "match"):
        key = "query" if name == "match" else "value"
        value = spec.get(key) if isinstance(spec, dict) else spec
        if isinstance(value, (dict, list)) or value is None:
            raise os_error(400, "parsing_exception", f"[{name}] query does not support [{field}]")
        ci = isinstance(spec, dict) and spec.get("case_insensitive", False)
        op = (spec.get("operator", "or") if isinstance(spec, dict) else "or").lower()
        return (name, field, value, ci or op)
    raise os_error(400, "parsing_exception", f"unknown query [{name}]")


def field_values(idx, field, did, src):
    if field == "_id":
        return "keyword", {}, [did]
    if field == "_index":
        return "keyword", {}, [idx.name]
    r = resolve_field(idx.mappings, field)
    if r is None:
        return None, None, []
    t, fm, parts, flat = r
    if fm.get("index") is False:
        return t, fm, []
    vals = list(leaves(extract(src, parts))) if flat else [v for v in extract(src, parts) if not isinstance(v, dict)]
    if "ignore_above" in fm:
        vals = [v for v in vals if len(kw(v)) <= fm["ignore_above"]]
    return t, fm, vals


def term_match(t, fm, vals, q, ci=False):
    if t in ("text", "match_only_text"):
        return any(kw(v) == kw(q) or kw(q) in tokens(v) for v in vals)
    if t == "ip" and isinstance(q, str) and "/" in q:
        net = ipaddress.ip_network(q, strict=False)
        return any(ipaddress.ip_address(v) in net for v in vals)
    qk = sort_key(t, fm, q)
    if ci and isinstance(qk, str):
        return any(isinstance(_safe_key(t, fm, v), str) and _safe_key(t, fm, v).lower() == qk.lower() for v in vals)
    return any(_safe_key(t, fm, v) == qk for v in vals)


def eval_query(node, idx, did, src):
    kind = node[0]
    if kind == "match_all":
        return True
    if kind == "match_none":
        return False
    if kind == "bool":
        c, msm = node[1], node[2]
        if not all(eval_query(x, idx, did, src) for x in c["must"] + c["filter"]):
            return False
        if any(eval_query(x, idx, did, src) for x in c["must_not"]):
            return False
        if c["should"]:
            hits = sum(eval_query(x, idx, did, src) for x in c["should"])
            need = msm if isinstance(msm, int) else math.floor(len(c["should"]) * int(msm[:-1]) / 100)
            return hits >= max(need, 0)
        return True
    if kind == "ids":
        return did in node[1]
    if kind == "exists":
        return bool(field_values(idx, node[1], did, src)[2])
    t, fm, vals = field_values(idx, node[1], did, src)
    if t is None or not vals:
        return False
    if kind == "term":
        return term_match(t, fm, vals, node[2], node[3] is True)
    if kind == "terms":
        return any(term_match(t, fm, vals, q) for q in node[2])
    if kind == "prefix":
        return any(kw(v).startswith(kw(node[2])) for v in vals)
    if kind == "match":
        if t in ("text", "match_only_text"):
            want, have = tokens(node[2]), {tok for v in vals for tok in tokens(v)}
            return (all if node[3] == "and" else any)(w in have for w in want) if want else False
        return term_match(t, fm, vals, node[2])
    if kind == "range":
        ops, fmt = node[2], node[3]
        bounds = [(op, sort_key(t, fm, v, fmt)) for op, v in ops.items() if v is not None]
        cmp = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b,
               "lte": lambda a, b: a <= b, "from": lambda a, b: a >= b, "to": lambda a, b: a <= b}
        for v in vals:
            k = _safe_key(t, fm, v)
            if k is not None and all(type(k) is type(b) and cmp[op](k, b) for op, b in bounds):
                return True
        return False
    raise AssertionError(kind)


def filter_source(src, spec):
    if spec is None or spec is True:
        return src
    if spec is False:
        return None
    inc = spec if isinstance(spec, list) else [spec] if isinstance(spec, str) else spec.get("includes", [])
    exc = spec.get("excludes", []) if isinstance(spec, dict) else []

    def walk(node, path):
        out = {}
        for k, v in node.items():
            p = path + k
            if any(simple_match(e, p) for e in exc):
                continue
            if isinstance(v, dict):
                sub = walk(v, p + ".")
                if sub or any(simple_match(i, p) for i in inc):
                    out[k] = sub if sub or not inc else v
            elif not inc or any(simple_match(i, p) or p.startswith(i + ".") for i in inc):
                out[k] = v
        return out
    if isinstance(src, dict):
        if inc:
            return walk(src, "") if not any(i == "*" for i in inc) else src
        return walk(src, "")
    return src


_MISSING = object()


def apply_filter_path(obj, patterns):
    pats = [p.split(".") for p in patterns if p]
    if any(p[0].startswith("-") for p in pats):
        raise unsupported("exclusive filter_path")

    def keep(node, pats):
        if any(not p for p in pats):
            return node
        if isinstance(node, list):
            out = [r for r in (keep(x, pats) for x in node) if r is not _MISSING]
            return out if out else _MISSING
        if not isinstance(node, dict):
            return _MISSING
        out = {}
        for k, v in node.items():
            subs = []
            for p in pats:
                if p[0] == "**":
                    subs += [p, p[1:]]
                elif simple_match(p[0], k):
                    subs.append(p[1:])
            if subs:
                r = keep(v, subs)
                if r is not _MISSING:
                    out[k] = r
        return out if out else _MISSING
    r = keep(obj, pats)
    return {} if r is _MISSING else r


# --------------------------------------------------------------------------- ISM
ISM_ACTIONS = {"rollover", "delete", "read_only", "read_write", "replica_count", "open", "close", "force_merge",
               "shrink", "notification", "snapshot", "index_priority", "allocation", "rollup", "transform",
               "alias", "convert_index_to_remote", "stop_replication", "search_only"}
ISM_CONDITIONS = {"min_index_age", "min_rollover_age", "min_doc_count", "min_size", "cron"}
_TIME_VALUE = re.compile(r"\d+(\.\d+)?(d|h|m|s|ms|micros|nanos)")


def validate_policy(body):
    def bad(reason):
        return os_error(400, "illegal_argument_exception", reason)
    if not isinstance(body, dict) or set(body) != {"policy"} or not isinstance(body["policy"], dict):
        raise bad("Required [policy] object in request body")
    p = body["policy"]
    allowed = {"policy_id", "description", "default_state", "states", "ism_template", "error_notification",
               "last_updated_time", "schema_version"}
    for k in p:
        if k not in allowed:
            raise os_error(400, "x_content_parse_exception", f"[policy] unknown field [{k}]")
    states = p.get("states")
    if not isinstance(states, list) or not states:
        raise bad("Policy must contain at least one state")
    names = [s.get("name") if isinstance(s, dict) else None for s in states]
    if None in names or len(set(names)) != len(names):
        raise bad("Policy states must have unique names")
    if p.get("default_state") not in names:
        raise bad(f"Policy default_state [{p.get('default_state')}] does not exist in the states {names}")
    for s in states:
        for k in s:
            if k not in ("name", "actions", "transitions"):
                raise os_error(400, "x_content_parse_exception", f"[state] unknown field [{k}]")
        for a in s.get("actions", []):
            acts = [k for k in a if k not in ("retry", "timeout", "custom_action")]
            if len(acts) != 1 or acts[0] not in ISM_ACTIONS:
                raise bad(f"Invalid field: [{acts[0] if acts else ''}] found in Action.")
            if "timeout" in a and not _TIME_VALUE.fullmatch(str(a["timeout"])):
                raise bad(f"failed to parse setting [timeout] with value [{a['timeout']}]")
        for tr in s.get("transitions", []):
            if tr.get("state_name") not in names:
                raise bad(f"Policy contains a transition to state [{tr.get('state_name')}] that does not exist")
            for c, v in (tr.get("conditions") or {}).items():
                if c not in ISM_CONDITIONS:
                    raise os_error(400, "x_content_parse_exception", f"[conditions] unknown field [{c}]")
                if c in ("min_index_age", "min_rollover_age") and not _TIME_VALUE.fullmatch(str(v)):
                    raise bad(f"failed to parse setting [{c}] with value [{v}] as a time value")
    tpls = p.get("ism_template")
    for t in (tpls if isinstance(tpls, list) else [tpls] if tpls else []):
        if not isinstance(t, dict) or not isinstance(t.get("index_patterns"), list):
            raise bad("ism_template requires index_patterns as a list")
    return p


# --------------------------------------------------------------------------- server state
class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.indices, self.data_streams = {}, {}
        self.templates, self.component_templates, self.policies = {}, {}, {}
        self.ism_seq = -1
        self.saved_objects, self.saved_object_seq = {}, 0  # (type, id) -> stored object (Dashboards)
        self.faults = {"item_status": [], "request_status": [], "max_request_bytes": None}
        self.stats = {"requests": 0, "bulk_requests": 0, "bulk_request_bytes": [], "bulk_items": 0,
                      "item_attempts": {}, "statuses": {}, "http_statuses": {}, "sigv4_verified": 0,
                      "auth_failures": 0, "content_encodings": {}, "faulted_requests": 0, "faulted_items": 0}

    # ---- templates
    def matching_template(self, name):
        best = None
        for tname, t in self.templates.items():
            if any(simple_match(p, name) for p in t["index_patterns"]):
                if best is None or t.get("priority", 0) > best[1].get("priority", 0):
                    best = (tname, t)
        return best

    def resolved_template(self, t):
        settings, mappings, aliases = {}, {}, {}
        for part in [self.component_templates[c]["template"] for c in t.get("composed_of", [])] + [t.get("template", {})]:
            settings.update(flatten_settings(part.get("settings")))
            mappings = merge_mappings(mappings, part.get("mappings", {}))
            aliases.update(part.get("aliases", {}))
        return settings, mappings, aliases

    def create_index(self, name, body=None, data_stream=None):
        settings, mappings, aliases = {}, {}, {}
        match = self.matching_template(data_stream or name)
        if match:
            settings, mappings, aliases = self.resolved_template(match[1])
        if body:
            settings.update(flatten_settings(body.get("settings")))
            mappings = merge_mappings(mappings, validate_mappings(body.get("mappings", {})))
            aliases.update(body.get("aliases", {}))
        if data_stream:
            mappings = merge_mappings(mappings, {"properties": {"@timestamp": {"type": "date"}}})
            aliases = {}
        idx = Index(name, mappings, settings, aliases, data_stream)
        self.indices[name] = idx
        return idx

    # ---- name resolution
    def aliases_of(self, alias):
        return [i for i in self.indices.values() if alias in i.aliases]

    def write_target(self, name):
        """Index to write to (auto-creating); raises DocError."""
        if name in self.indices:
            return self.indices[name]
        if name in self.data_streams:
            return self.indices[self.data_streams[name]["indices"][-1]]
        members = self.aliases_of(name)
        if members:
            writers = [i for i in members if i.aliases[name].get("is_write_index")]
            if len(members) == 1 and members[0].aliases[name].get("is_write_index", True) is not False:
                return members[0]
            if len(writers) == 1:
                return writers[0]
            raise DocError(400, "illegal_argument_exception",
                           f"no write index is defined for alias [{name}]. The write index may be explicitly "
                           f"disabled using is_write_index=false or the alias points to multiple indices without "
                           f"one being designated as a write index")
        err = index_name_error(name)
        if err:
            raise DocError(400, "invalid_index_name_exception", f"Invalid index name [{name}], {err}",
                           index_uuid="_na_", index=name)
        match = self.matching_template(name)
        if match and match[1].get("data_stream") is not None:
            backing = f".ds-{name}-000001"
            self.data_streams[name] = {"indices": [backing], "template": match[0]}
            return self.create_index(backing, data_stream=name)
        return self.create_index(name)

    def resolve_search(self, expr, params):
        ignore = params.get("ignore_unavailable") == "true"
        allow_none = params.get("allow_no_indices", "true") != "false"
        chosen = []

        def add(names):
            for n in names:
                if n not in chosen:
                    chosen.append(n)
        for part in (expr or "_all").split(","):
            if part in ("_all", "*"):
                add(n for n in self.indices if not n.startswith("."))
                add(b for ds in self.data_streams.values() for b in ds["indices"])
            elif part.startswith("-") and chosen:
                chosen = [n for n in chosen if not simple_match(part[1:], n)]
            elif "*" in part:
                add(n for n in self.indices if simple_match(part, n) and (part.startswith(".") or not n.startswith(".")))
                add(b for d, ds in self.data_streams.items() if simple_match(part, d) for b in ds["indices"])
                add(i.name for i in self.indices.values() for a in i.aliases if simple_match(part, a))
            elif part in self.indices:
                add([part])
            elif part in self.data_streams:
                add(self.data_streams[part]["indices"])
            elif self.aliases_of(part):
                add(i.name for i in self.aliases_of(part))
            elif not ignore:
                raise index_not_found(part)
        if not chosen and not allow_none:
            raise index_not_found(expr)
        return [self.indices[n] for n in chosen]


def index_not_found(name):
    return os_error(404, "index_not_found_exception", f"no such index [{name}]", index=name,
                    **{"resource.id": name, "resource.type": "index_or_alias", "index_uuid": "_na_"})


# --------------------------------------------------------------------------- bulk
BULK_META = {"_index", "_id", "routing", "version", "version_type", "if_seq_no", "if_primary_term", "pipeline",
             "require_alias", "retry_on_conflict", "_source", "op_type", "dynamic_templates"}
UPDATE_KEYS = {"doc", "upsert", "doc_as_upsert", "script", "scripted_upsert", "detect_noop", "_source"}


def parse_bulk(body, default_index):
    """NDJSON framing as BulkRequestParser does it; raises ApiError for whole-request errors."""
    if not body:
        raise os_error(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
    if not body.endswith(b"\n"):
        raise os_error(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
    lines, ops, i = body[:-1].split(b"\n"), [], 0
    while i < len(lines):
        n = i + 1
        try:
            action = strict_json(lines[i].decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise os_error(400, "json_parse_exception", f"Malformed action/metadata line [{n}]: {e}")
        if not isinstance(action, dict) or len(action) != 1:
            raise os_error(400, "illegal_argument_exception",
                           f"Malformed action/metadata line [{n}], expected START_OBJECT or END_OBJECT but found "
                           f"[{'START_OBJECT with ' + str(len(action)) + ' fields' if isinstance(action, dict) else 'VALUE'}]")
        (op, meta), = action.items()
        if op not in ("create", "index", "update", "delete"):
            raise os_error(400, "illegal_argument_exception", f"Malformed action/metadata line [{n}], expected field "
                                                              f"[create], [delete], [index] or [update] but found [{op}]")
        if not isinstance(meta, dict):
            raise os_error(400, "illegal_argument_exception",
                           f"Malformed action/metadata line [{n}], expected a simple value for field [{op}] but found [{type(meta).__name__}]")
        for k, v in meta.items():
            if k not in BULK_META:
                raise os_error(400, "illegal_argument_exception", f"Action/metadata line [{n}] contains an unknown parameter [{k}]")
        index = meta.get("_index", default_index)
        if not index:
            raise os_error(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;")
        doc_id = meta.get("_id")
        if doc_id is not None and not isinstance(doc_id, (str, int)) or isinstance(doc_id, bool):
            raise os_error(400, "illegal_argument_exception", f"Malformed action/metadata line [{n}], _id must be a string")
        if op in ("update", "delete") and doc_id is None:
            raise os_error(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;")
        item = {"op": op, "meta": meta, "index": index, "id": None if doc_id is None else str(doc_id),
                "line": n, "source": None}
        i += 1
        if op != "delete":
            if i >= len(lines):
                raise os_error(400, "illegal_argument_exception",
                               f"Action/metadata line [{n}] ({op}) is not followed by a source line (opensearch_mock is "
                               f"stricter than OpenSearch here, which silently drops the action)")
            if not lines[i].strip():
                raise os_error(400, "action_request_validation_exception", "Validation Failed: 1: source is missing;")
            item["source"] = lines[i]
            if op == "update":
                try:
                    upd = strict_json(lines[i].decode("utf-8"))
                except (ValueError, UnicodeDecodeError) as e:
                    raise os_error(400, "json_parse_exception", str(e))
                if not isinstance(upd, dict):
                    raise os_error(400, "x_content_parse_exception", "[UpdateRequest] expected an object")
                for k in upd:
                    if k not in UPDATE_KEYS:
                        raise os_error(400, "x_content_parse_exception", f"[1:2] [UpdateRequest] unknown field [{k}]")
                item["update"] = upd
            i += 1
        ops.append(item)
    return ops


def deep_merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


FAULT_ERRORS = {
    429: ("es_rejected_execution_exception", "rejected execution of coordinating operation [coordinating_and_primary_bytes="
          "105126959, replica_bytes=0, all_bytes=105126959, coordinating_operation_bytes=2597635, "
          "max_coordinating_and_primary_bytes=107374182]"),
    400: ("mapper_parsing_exception", "failed to parse field [{field}] of type [long] in document with id '{id}'. "
          "Preview of field's value: 'injected'"),
    409: ("version_conflict_engine_exception", "[{id}]: version conflict, document already exists (current version [1])"),
    500: ("exception", "injected internal failure (opensearch_mock fault)"),
    503: ("unavailable_shards_exception", "[{index}][0] primary shard is not active Timeout: [1m], request: "
          "[BulkShardRequest [[{index}][0]] containing [1] requests]"),
}


class Store:
    """Operations on State; all called with state.lock held."""

    def __init__(self, state):
        self.s = state

    def item_fault(self, item):
        for f in self.s.faults["item_status"]:
            if f["times"] == 0:
                continue
            src = (item["source"] or b"").decode("utf-8", "replace")
            if f["match"] in src or (item["id"] is not None and f["match"] in item["id"]):
                if f["times"] > 0:
                    f["times"] -= 1
                etype, reason = FAULT_ERRORS.get(f["status"], ("exception", "injected failure"))
                return DocError(f["status"], etype, reason.format(id=item["id"], index=item["index"], field="injected"))
        return None

    def write(self, item, idx=None):
        """Apply one write op; returns (status, body-without-status). Raises DocError."""
        op, meta, did = item["op"], item["meta"], item["id"]
        if idx is None:
            if meta.get("require_alias") and not self.s.aliases_of(item["index"]):
                raise DocError(404, "index_not_found_exception",
                               f"no such index [{item['index']}] and [require_alias] request flag is [true] and "
                               f"[{item['index']}] is not an alias", index=item["index"], index_uuid="_na_")
            name = item["index"]
            if op == "delete" and name not in self.s.indices and name not in self.s.data_streams \
                    and not self.s.aliases_of(name):  # TransportBulkAction never auto-creates for deletes
                raise DocError(404, "index_not_found_exception", f"no such index [{name}]", index=name,
                               index_uuid="_na_", **{"resource.type": "index_expression", "resource.id": name})
            idx = self.s.write_target(name)
        item["resolved"] = idx
        if did is not None:
            if did == "":
                raise DocError(400, "illegal_argument_exception", "if _id is specified it must not be empty")
            if len(did.encode()) > 512:
                raise DocError(400, "illegal_argument_exception", f"id [{did}] is too long, must be no longer "
                                                                  f"than 512 bytes but was: {len(did.encode())}")
        elif op in ("create", "index"):
            did = item["id"] = new_uuid(20)
        if idx.data_stream and (op != "create" and meta.get("op_type") != "create"):
            raise DocError(400, "illegal_argument_exception",
                           "only write ops with an op_type of create are allowed in data streams")
        cur = idx.docs.get(did)
        if "if_seq_no" in meta or "if_primary_term" in meta:
            want = (meta.get("if_seq_no"), meta.get("if_primary_term"))
            if cur is None or (cur["_seq_no"], PRIMARY_TERM) != want:
                tail = (f"current document has seqNo [{cur['_seq_no']}] and primary term [{PRIMARY_TERM}]"
                        if cur else "but no document was found")
                raise DocError(409, "version_conflict_engine_exception",
                               f"[{did}]: version conflict, required seqNo [{want[0]}], primary term [{want[1]}]. {tail}")
        if meta.get("version_type") in ("external", "external_gte") and op != "delete":
            v = meta.get("version")
            if cur and (v < cur["_version"] or (v == cur["_version"] and meta["version_type"] == "external")):
                raise DocError(409, "version_conflict_engine_exception", f"[{did}]: version conflict, current version "
                                                                          f"[{cur['_version']}] is higher or equal to the one provided [{v}]")
        if op == "delete":
            seq = idx.next_seq()
            if cur is None:
                return 404, self._result(idx, did, idx.tombstones.get(did, 0) + 1, "not_found", seq)
            del idx.docs[did]
            idx.tombstones[did] = cur["_version"] + 1
            return 200, self._result(idx, did, cur["_version"] + 1, "deleted", seq)
        if op == "update":
            upd = item["update"]
            if "script" in upd:
                raise DocError(400, "mock_unsupported_exception", "opensearch_mock does not implement update scripts")
            if cur is None:
                if upd.get("doc_as_upsert") and "doc" in upd:
                    src = upd["doc"]
                elif "upsert" in upd:
                    src = upd["upsert"]
                else:
                    raise DocError(404, "document_missing_exception", f"[{did}]: document missing")
            else:
                src = deep_merge(cur["_source"], upd.get("doc", {}))
                if upd.get("detect_noop", True) and src == cur["_source"]:
                    return 200, {**self._result(idx, did, cur["_version"], "noop", cur["_seq_no"]),
                                 "_shards": {"total": 0, "successful": 0, "failed": 0}}
        else:
            if op == "create" and cur is not None:
                raise DocError(409, "version_conflict_engine_exception",
                               f"[{did}]: version conflict, document already exists (current version [{cur['_version']}])")
            try:
                src = strict_json(item["source"].decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise mapper_error("failed to parse", caused_by={"type": "json_parse_exception", "reason": str(e)})
        if not isinstance(src, dict):
            raise mapper_error("failed to parse", caused_by={"type": "not_x_content_exception", "reason":
                                                              "Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes"})
        if idx.data_stream:
            ts = extract(src, ["@timestamp"])
            if len(ts) != 1:
                raise mapper_error("documents must contain a single-valued timestamp field '@timestamp' of date type")
        DocParser(idx, did).parse(src)
        version = (cur["_version"] + 1) if cur else idx.tombstones.pop(did, 0) + 1
        if meta.get("version_type") in ("external", "external_gte"):
            version = meta["version"]
        seq = idx.next_seq()
        idx.docs[did] = {"_source": src, "_version": version, "_seq_no": seq}
        return (200, self._result(idx, did, version, "updated", seq)) if cur else \
               (201, self._result(idx, did, version, "created", seq))

    @staticmethod
    def _result(idx, did, version, result, seq):
        return {"_index": idx.name, "_id": did, "_version": version, "result": result, "_shards": dict(SHARDS),
                "_seq_no": seq, "_primary_term": PRIMARY_TERM}

    def bulk(self, body, default_index):
        started = time.time()
        ops = parse_bulk(body, default_index)
        st, items, errors = self.s.stats, [], False
        for item in ops:
            st["bulk_items"] += 1
            if item["id"] is None and item["op"] in ("create", "index"):
                item["id"] = new_uuid(20)
            key = f"{item['index']}/{item['id']}"
            st["item_attempts"][key] = st["item_attempts"].get(key, 0) + 1
            err = self.item_fault(item)
            status = None
            if err:
                st["faulted_items"] += 1
            else:
                try:
                    status, res = self.write(item)
                except DocError as e:
                    err = e
            if err:
                errors, status = True, err.status
                idx = item.get("resolved")
                res = {"_index": idx.name if idx else item["index"], "_id": item["id"], "status": status,
                       "error": err.body(idx.name if idx else item["index"], idx.uuid if idx else "_na_")}
            else:
                res["status"] = status
            st["statuses"][str(status)] = st["statuses"].get(str(status), 0) + 1
            items.append({item["op"]: res})
        return {"took": int((time.time() - started) * 1000), "errors": errors, "items": items}


# --------------------------------------------------------------------------- HTTP
GLOBAL_PARAMS = {"pretty", "human", "error_trace", "filter_path", "source", "source_content_type"}
P_BULK = {"refresh", "routing", "timeout", "wait_for_active_shards", "pipeline", "require_alias", "_source",
          "_source_includes", "_source_excludes"}
P_SEARCH = {"size", "from", "ignore_unavailable", "allow_no_indices", "expand_wildcards", "track_total_hits",
            "rest_total_hits_as_int", "routing", "preference", "timeout", "search_type", "request_cache",
            "typed_keys", "allow_partial_search_results", "batched_reduce_size", "ccs_minimize_roundtrips"}
P_DOC = {"refresh", "routing", "timeout", "version", "version_type", "if_seq_no", "if_primary_term", "op_type",
         "pipeline", "wait_for_active_shards", "require_alias"}
P_INDICES = {"ignore_unavailable", "allow_no_indices", "expand_wildcards", "master_timeout",
             "cluster_manager_timeout", "timeout", "local", "include_defaults", "flat_settings",
             "wait_for_active_shards"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "opensearch-mock/" + VERSION
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.cfg.verbose:
            sys.stderr.write("opensearch_mock: " + (fmt % args) + "\n")

    def do_GET(self):
        self.handle_any()
    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    # ---- plumbing
    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status, body, headers=None, params=None):
        if isinstance(body, (dict, list)):
            if params and "filter_path" in params and isinstance(body, dict):
                body = apply_filter_path(body, params["filter_path"].split(","))
            pretty = params is not None and "pretty" in params and params["pretty"] != "false"
            data = (json.dumps(body, indent=2 if pretty else None, separators=None if pretty else (",", ":"),
                               ensure_ascii=False) + ("\n" if pretty else "")).encode()
            ctype = "application/json; charset=UTF-8"
        else:
            data = body.encode() if isinstance(body, str) else body
            ctype = (headers or {}).pop("Content-Type", "text/plain; charset=UTF-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        if not self.path.startswith("/_mock"):
            with self.server.state.lock:
                hs = self.server.state.stats["http_statuses"]
                hs[str(status)] = hs.get(str(status), 0) + 1

    def handle_any(self):
        raw_path, _, query = self.path.partition("?")
        try:
            wire = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return self.send(400, {"error": "malformed request body framing", "status": 400}, {"Connection": "close"})
        params = dict(parse_qsl(query, keep_blank_values=True))
        segs = [unquote(s) for s in raw_path.split("/") if s]
        is_mock = bool(segs) and segs[0] == "_mock"
        state = self.server.state
        try:
            if is_mock:
                with state.lock:
                    status, body = self.mock_api(segs, params, wire)
                return self.send(status, body)
            enc = self.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
            is_bulk = segs[-1:] == ["_bulk"] and self.command in ("POST", "PUT")
            too_big = None
            with state.lock:
                st = state.stats
                st["requests"] += 1
                if wire:
                    st["content_encodings"][enc] = st["content_encodings"].get(enc, 0) + 1
                if is_bulk:
                    st["bulk_requests"] += 1
                    st["bulk_request_bytes"].append(len(wire))
                    limit = state.faults["max_request_bytes"]
                    if limit is not None and len(wire) > limit:
                        too_big = limit
            if too_big is not None:  # what the load balancer in front of Amazon OpenSearch does
                self.close_connection = True
                return self.send(413, {"Message": f"Request size exceeded {too_big} bytes"}, {"Connection": "close"})
            self.authenticate(raw_path, query, wire)
            body = self.decode_body(wire, enc)
            with state.lock:
                if is_bulk:
                    for f in state.faults["request_status"]:
                        if f["times"] != 0:
                            f["times"] -= f["times"] > 0
                            st["faulted_requests"] += 1
                            raise request_fault(f["status"])
                status, resp = self.route(self.command, segs, params, body, raw_path)
            return self.send(status, resp, params=params)
        except ApiError as e:
            return self.send(e.status, e.body, dict(e.headers), params=params)
        except Exception as e:  # a mock bug must not look like a network failure
            import traceback
            traceback.print_exc()
            return self.send(500, {"error": {"root_cause": [], "type": "mock_internal_error", "reason": repr(e)},
                                   "status": 500})

    def decode_body(self, wire, enc):
        if not wire or enc == "identity":
            return wire
        try:
            if enc in ("gzip", "x-gzip"):
                return gzip.decompress(wire)
            if enc == "deflate":
                return zlib.decompress(wire)
        except (OSError, zlib.error, EOFError) as e:
            raise os_error(400, "illegal_argument_exception", f"failed to decode {enc} request body: {e}")
        raise os_error(400, "illegal_argument_exception", f"unsupported Content-Encoding [{enc}]")

    # ---- auth
    def authenticate(self, raw_path, query, wire):
        cfg, state = self.server.cfg, self.server.state
        try:
            if cfg.basic:
                want = "Basic " + base64.b64encode(cfg.basic.encode()).decode()
                if not hmac.compare_digest(self.headers.get("Authorization", ""), want):
                    raise ApiError(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="OpenSearch Security"'})
            if cfg.sigv4:
                self.verify_sigv4(raw_path, query, wire)
                with state.lock:
                    state.stats["sigv4_verified"] += 1
        except ApiError:
            with state.lock:
                state.stats["auth_failures"] += 1
            raise

    def verify_sigv4(self, raw_path, query, wire):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.compat import HTTPHeaders
        from botocore.credentials import Credentials
        ak, sk, region, service = self.server.cfg.sigv4

        def deny(msg):
            return ApiError(403, {"message": msg})
        auth = self.headers.get("Authorization")
        if not auth:
            raise deny("Missing Authentication Token")
        m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
                         r"SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})", auth.strip())
        if not m:
            raise deny("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. "
                       f"Authorization={auth}")
        c_ak, c_date, c_region, c_service, signed, given = m.groups()
        amz_date = self.headers.get("X-Amz-Date", "")
        if not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
            raise deny("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        if c_ak != ak:
            raise deny("The security token included in the request is invalid.")
        if c_date != amz_date[:8]:
            raise deny(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                       f"'{c_date}' != '{amz_date[:8]}'")
        if c_region != region:
            raise deny(f"Credential should be scoped to a valid region. ")
        if c_service != service:
            raise deny(f"Credential should be scoped to correct service: '{service}'. ")
        skew = abs(time.time() - dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc).timestamp())
        if skew > 300:
            raise deny(f"Signature expired: {amz_date} is now earlier/later than allowed (5 min. skew).")
        names = signed.split(";")
        mismatch = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                    "Secret Access Key and signing method. Consult the service documentation for details.")
        required = {"host"} | ({"x-amz-content-sha256"} if service == "aoss" else set())
        if not required <= set(names) or any(self.headers.get(n) is None for n in names):
            raise deny(mismatch)
        content_sha = self.headers.get("X-Amz-Content-SHA256")
        if content_sha is not None and content_sha != hashlib.sha256(wire).hexdigest():
            raise deny(mismatch)
        headers = HTTPHeaders()
        for n in names:
            headers[n] = ",".join(self.headers.get_all(n))
        if content_sha is not None and "x-amz-content-sha256" not in names:
            headers["X-Amz-Content-SHA256"] = content_sha

        class Verifier(SigV4Auth):
            def headers_to_sign(self, request):
                hm = HTTPHeaders()
                for n in names:
                    hm[n] = request.headers[n]
                return hm
        req = AWSRequest(method=self.command, url=f"http://{self.headers['host']}{raw_path}", data=wire,
                         headers=headers, params=parse_qsl(query, keep_blank_values=True))
        req.context["timestamp"] = amz_date
        v = Verifier(Credentials(ak, sk, self.headers.get("X-Amz-Security-Token")), service, region)
        expected = v.signature(v.string_to_sign(req, v.canonical_request(req)), req)
        if not hmac.compare_digest(expected, given):
            raise deny(mismatch)

    # ---- mock API
    def mock_api(self, segs, params, wire):
        state, cmd = self.server.state, self.command
        if segs == ["_mock", "faults"] and cmd == "POST":
            try:
                spec = json.loads(wire or b"{}")
                assert isinstance(spec, dict)
            except (ValueError, AssertionError):
                return 400, {"error": "fault spec must be a JSON object"}
            faults = {"item_status": [], "request_status": [], "max_request_bytes": spec.pop("max_request_bytes", None)}
            for kind in ("item_status", "request_status"):
                for f in spec.pop(kind, []):
                    if not isinstance(f.get("status"), int) or (kind == "item_status" and not isinstance(f.get("match"), str)):
                        return 400, {"error": f"bad {kind} fault {f!r}: needs integer status" +
                                     (" and string match" if kind == "item_status" else "")}
                    faults[kind].append({"match": f.get("match"), "status": f["status"], "times": int(f.get("times", 1))})
            if spec:
                return 400, {"error": f"unknown fault keys {sorted(spec)}"}
            state.faults = faults
            return 200, {"acknowledged": True, "faults": faults}
        if segs == ["_mock", "faults"] and cmd == "GET":
            return 200, state.faults
        if segs == ["_mock", "stats"] and cmd == "GET":
            st = copy.deepcopy(state.stats)
            st["docs"] = {n: len(i.docs) for n, i in state.indices.items()}
            st["mapped_fields"] = {n: sum(1 for _ in field_paths(i.mappings)) for n, i in state.indices.items()}
            return 200, st
        if segs == ["_mock", "reset"] and cmd == "POST":
            state.reset()
            return 200, {"acknowledged": True}
        if len(segs) == 3 and segs[1] == "fields" and cmd == "GET":
            idx = state.indices.get(segs[2])
            if idx is None:
                raise index_not_found(segs[2])
            fields = sorted(field_paths(idx.mappings))
            return 200, {"index": idx.name, "count": len(fields), "fields": fields}
        return 400, {"error": f"no mock handler for {cmd} /{'/'.join(segs)}"}

    # ---- routing
    def route(self, cmd, segs, params, body, raw_path):
        def allow(*methods):
            if cmd not in methods:
                raise ApiError(405, {"error": f"Incorrect HTTP method for uri [{self.path}] and method [{cmd}], "
                                              f"allowed: [{', '.join(sorted(methods))}]", "status": 405})

        def check(allowed, json_body=True, ndjson=False):
            for p in params:
                if p not in allowed and p not in GLOBAL_PARAMS:
                    raise os_error(400, "illegal_argument_exception",
                                   f"request [{raw_path}] contains unrecognized parameter: [{p}]")
            if body:
                ctype = self.headers.get("Content-Type")
                if not ctype:
                    raise ApiError(406, {"error": "Content-Type header is missing", "status": 406})
                media = ctype.split(";")[0].strip().lower()
                ok = {"application/json", "application/x-ndjson"}
                if media not in ok:
                    raise ApiError(406, {"error": f"Content-Type header [{ctype}] is not supported", "status": 406})
                if json_body and not ndjson:
                    try:
                        return strict_json(body.decode("utf-8"))
                    except (ValueError, UnicodeDecodeError) as e:
                        raise os_error(400, "json_parse_exception", str(e))
            return None if not ndjson else body
        ops = Ops(self.server.state)
        n = len(segs)
        head = segs[0] if segs else ""
        if n == 0:
            allow("GET", "HEAD")
            check(set())
            return 200, ops.info()
        if head == "_bulk" and n == 1:
            allow("POST", "PUT")
            return 200, ops.store.bulk(check(P_BULK, ndjson=True) or b"", None)
        if head in ("_index_template", "_component_template") and n <= 2:
            allow(*(("GET",) if n == 1 else ("GET", "HEAD", "PUT", "POST", "DELETE")))
            b = check({"create", "cause", "master_timeout", "cluster_manager_timeout", "local", "flat_settings"})
            return ops.templates(head, cmd, segs[1] if n == 2 else "*", b, params)
        if head in ("_plugins", "_opendistro") and segs[1:3] == ["_ism", "policies"] and n <= 4:
            allow(*(("GET",) if n == 3 else ("GET", "HEAD", "PUT", "DELETE")))
            b = check({"if_seq_no", "if_primary_term", "from", "size", "sortField", "sortOrder", "queryString"})
            return ops.ism(cmd, segs[3] if n == 4 else None, b, params)
        if head == "_cat" and n >= 2 and segs[1] == "indices" and n <= 3:
            allow("GET")
            check({"format", "h", "v", "s", "bytes", "health", "pri", "expand_wildcards", "help", "local"})
            return ops.cat_indices(segs[2] if n == 3 else "*", params)
        if head == "_cluster" and segs[1:] == ["health"]:
            allow("GET")
            check({"wait_for_status", "timeout", "level", "local", "wait_for_nodes", "wait_for_active_shards"})
            return 200, {"cluster_name": "opensearch-mock", "status": "green", "timed_out": False,
                         "number_of_nodes": 1, "number_of_data_nodes": 1, "active_shards": len(self.server.state.indices)}
        if head == "_dashboards":
            return Dashboards(self.server.state, self.headers).route(cmd, segs[1:], self.path.partition("?")[2], body)
        if head.startswith("_") and head not in ("_search", "_count", "_refresh", "_mapping", "_all"):
            raise ApiError(400, {"error": f"no handler found for uri [{self.path}] and method [{cmd}]"})
        expr, rest = (("_all", segs) if head.startswith("_") and head != "_all" else (head, segs[1:]))
        if not rest:
            if cmd == "PUT":
                return ops.create_index(expr, check(P_INDICES))
            allow("GET", "HEAD", "DELETE", "PUT")
            check(P_INDICES)
            return ops.index_admin(cmd, expr, params)
        action = rest[0]
        if action == "_bulk" and len(rest) == 1:
            allow("POST", "PUT")
            return 200, ops.store.bulk(check(P_BULK, ndjson=True) or b"", expr)
        if action in ("_search", "_count") and len(rest) == 1:
            allow("GET", "POST")
            b = check(P_SEARCH)
            return 200, ops.search(expr, b or {}, params, count=action == "_count")
        if action == "_refresh" and len(rest) == 1:
            allow("POST", "GET")
            check(P_INDICES)
            found = self.server.state.resolve_search(expr, params)
            return 200, {"_shards": {"total": 2 * len(found), "successful": len(found), "failed": 0}}
        if action in ("_mapping", "_settings") and len(rest) == 1:
            allow("GET", "PUT", "POST") if action == "_mapping" else allow("GET")
            b = check(P_INDICES | {"write_index_only"})
            return ops.mapping_or_settings(cmd, action, expr, b, params)
        if action in ("_doc", "_create") and len(rest) <= 2 and expr != "_all":
            did = rest[1] if len(rest) == 2 else None
            if did is None:
                allow("POST")
            elif action == "_create":
                allow("PUT", "POST")
            else:
                allow("GET", "HEAD", "PUT", "POST", "DELETE")
            b = check(P_DOC | {"_source", "_source_includes", "_source_excludes", "realtime", "preference",
                               "stored_fields"})
            return ops.single_doc(cmd, action, expr, did, b, params)
        raise ApiError(400, {"error": f"no handler found for uri [{self.path}] and method [{cmd}]"})


def request_fault(status):
    if status == 429:
        return os_error(429, "es_rejected_execution_exception", FAULT_ERRORS[429][1])
    if status == 503:
        return os_error(503, "unavailable_shards_exception", "[_bulk] primary shard is not active Timeout: [1m] "
                                                             "(opensearch_mock fault: service unavailable)")
    return os_error(status, "exception", f"injected request failure [{status}] (opensearch_mock fault)")


class Ops:
    """Endpoint implementations (called with the state lock held)."""

    def __init__(self, state):
        self.s, self.store = state, Store(state)

    def info(self):
        return {"name": "opensearch-mock-node", "cluster_name": "opensearch-mock", "cluster_uuid": "mockClusterUuid00000000",
                "version": {"distribution": "opensearch", "number": VERSION, "build_type": "tar",
                            "build_hash": "0000000000000000000000000000000000000000",
                            "build_date": "2024-09-10T00:00:00.000000Z", "build_snapshot": False,
                            "lucene_version": "9.11.1", "minimum_wire_compatibility_version": "7.10.0",
                            "minimum_index_compatibility_version": "7.0.0"},
                "tagline": "The OpenSearch Project: https://opensearch.org/"}

    # ---- templates
    def templates(self, kind, cmd, name, body, params):
        comp = kind == "_component_template"
        store = self.s.component_templates if comp else self.s.templates
        label = "component template" if comp else "index template"
        if cmd in ("GET", "HEAD"):
            found = {n: t for n, t in store.items() if simple_match(name, n)}
            if not found and "*" not in name:
                raise os_error(404, "resource_not_found_exception", f"{label} matching [{name}] not found")
            key = "component_template" if comp else "index_template"
            return 200, {key + "s": [{"name": n, key: copy.deepcopy(t)} for n, t in sorted(found.items())]}
        if cmd == "DELETE":
            if name not in store:
                if comp:
                    raise os_error(404, "resource_not_found_exception", f"component template matching [{name}] not found")
                raise os_error(404, "index_template_missing_exception", f"index_template [{name}] missing")
            if comp:
                users = [n for n, t in self.s.templates.items() if name in t.get("composed_of", [])]
                if users:
                    raise os_error(400, "illegal_argument_exception", f"component templates [{name}] cannot be removed "
                                                                       f"as they are still in use by index templates {users}")
            del store[name]
            return 200, {"acknowledged": True}
        if body is None:
            raise os_error(400, "parse_exception", "request body is required")
        allowed = {"template", "version", "_meta"} | (set() if comp else
                                                      {"index_patterns", "priority", "composed_of", "data_stream"})
        for k in body:
            if k not in allowed:
                raise os_error(400, "x_content_parse_exception", f"[1:2] [{kind.strip('_')}] unknown field [{k}]")
        t = copy.deepcopy(body)
        tpl = t.get("template", {})
        if not isinstance(tpl, dict):
            raise os_error(400, "x_content_parse_exception", "[template] expected an object")
        for k in tpl:
            if k not in ("settings", "mappings", "aliases"):
                raise os_error(400, "x_content_parse_exception", f"[1:2] [template] unknown field [{k}]")
        if "mappings" in tpl:
            tpl["mappings"] = validate_mappings(tpl["mappings"])
        if "settings" in tpl:
            tpl["settings"] = nest_settings(flatten_settings(tpl["settings"]))
        if comp:
            if "template" not in t:
                raise os_error(400, "x_content_parse_exception", "Required [template]")
        else:
            pats = t.get("index_patterns")
            if isinstance(pats, str):
                pats = t["index_patterns"] = [pats]
            if not pats or not isinstance(pats, list):
                raise os_error(400, "action_request_validation_exception", "Validation Failed: 1: index patterns are missing;")
            if not isinstance(t.get("priority", 0), int) or t.get("priority", 0) < 0:
                raise os_error(400, "x_content_parse_exception", "[priority] must be a non-negative integer")
            t.setdefault("composed_of", [])
            missing = [c for c in t["composed_of"] if c not in self.s.component_templates]
            if missing:
                raise os_error(400, "invalid_index_template_exception", f"index_template [{name}] invalid, cause "
                               f"[index template [{name}] specifies component templates {missing} that do not exist]")
            for p in pats:
                err = index_name_error(p.replace("*", "x"))
                if err and "lowercase" in err or p.startswith(("_", "-")):
                    raise os_error(400, "invalid_index_template_exception", f"index_template [{name}] invalid, cause "
                                   f"[Validation Failed: 1: index_pattern [{p}] must not contain a space or uppercase, start with '_' or '-';]")
            for other, ot in self.s.templates.items():
                if other == name or ot.get("priority", 0) != t.get("priority", 0):
                    continue
                if any(self._overlap(a, b) for a in pats for b in ot["index_patterns"]):
                    raise os_error(400, "illegal_argument_exception",
                                   f"index template [{name}] has index patterns {pats} matching patterns from existing "
                                   f"templates [{other}] with patterns ({other} => {ot['index_patterns']}) that have the "
                                   f"same priority [{t.get('priority', 0)}], multiple index templates may not match during "
                                   f"index creation, please use a different priority")
            try:
                self.s.resolved_template(t)
            except ApiError as e:
                raise os_error(400, "illegal_argument_exception", f"composable template [{name}] template after "
                               f"composition with component templates {t['composed_of']} is invalid",
                               caused_by=e.body["error"])
        if params.get("create") == "true" and name in store:
            raise os_error(400, "illegal_argument_exception", f"{label} [{name}] already exists")
        store[name] = t
        return 200, {"acknowledged": True}

    @staticmethod
    def _overlap(a, b):
        return simple_match(a, b.replace("*", "")) or simple_match(b, a.replace("*", "")) or \
            simple_match(a, b) or simple_match(b, a)

    # ---- ISM
    def ism(self, cmd, pid, body, params):
        pols = self.s.policies
        if pid is None:
            out = [{"_id": k, "_seq_no": p["_seq_no"], "_primary_term": PRIMARY_TERM, "policy": p["policy"]}
                   for k, p in sorted(pols.items())]
            return 200, {"policies": out, "total_policies": len(out)}
        cur = pols.get(pid)
        if cmd in ("GET", "HEAD"):
            if cur is None:
                raise os_error(404, "status_exception", "Policy not found")
            return 200, {"_id": pid, "_version": cur["_version"], "_seq_no": cur["_seq_no"],
                         "_primary_term": PRIMARY_TERM, "policy": cur["policy"]}
        if cmd == "DELETE":
            self.s.ism_seq += 1
            base = {"_index": ".opendistro-ism-config", "_id": pid, "_shards": dict(SHARDS), "_seq_no": self.s.ism_seq,
                    "_primary_term": PRIMARY_TERM}
            if cur is None:
                return 404, {**base, "_version": 1, "result": "not_found"}
            del pols[pid]
            return 200, {**base, "_version": cur["_version"] + 1, "result": "deleted", "forced_refresh": True}
        p = validate_policy(body)
        has_cc = "if_seq_no" in params or "if_primary_term" in params
        conflict = None
        if has_cc:
            want = (params.get("if_seq_no"), params.get("if_primary_term"))
            if cur is None:
                conflict = f"[{pid}]: version conflict, required seqNo [{want[0]}], primary term [{want[1]}]. but no document was found"
            elif (str(cur["_seq_no"]), str(PRIMARY_TERM)) != want:
                conflict = (f"[{pid}]: version conflict, required seqNo [{want[0]}], primary term [{want[1]}]. current "
                            f"document has seqNo [{cur['_seq_no']}] and primary term [{PRIMARY_TERM}]")
        elif cur is not None:
            conflict = f"[{pid}]: version conflict, document already exists (current version [{cur['_version']}])"
        if conflict:
            raise os_error(409, "version_conflict_engine_exception", conflict, index=".opendistro-ism-config",
                           shard="0", index_uuid="ismConfigIndexUuid0000")
        policy = {"policy_id": pid, "description": p.get("description", ""),
                  "last_updated_time": int(time.time() * 1000), "schema_version": 21,
                  "error_notification": p.get("error_notification"), "default_state": p["default_state"],
                  "states": p["states"], "ism_template": p.get("ism_template")}
        self.s.ism_seq += 1
        version = cur["_version"] + 1 if cur else 1
        pols[pid] = {"policy": policy, "_version": version, "_seq_no": self.s.ism_seq}
        return (200 if cur else 201), {"_id": pid, "_version": version, "_primary_term": PRIMARY_TERM,
                                       "_seq_no": self.s.ism_seq, "policy": {"policy": policy}}

    # ---- indices
    def create_index(self, name, body):
        if name in self.s.indices or name in self.s.data_streams or self.s.aliases_of(name):
            idx = self.s.indices.get(name)
            raise os_error(400, "resource_already_exists_exception",
                           f"index [{name}/{idx.uuid if idx else '_na_'}] already exists", index=name,
                           index_uuid=idx.uuid if idx else "_na_")
        err = index_name_error(name)
        if err:
            raise os_error(400, "invalid_index_name_exception", f"Invalid index name [{name}], {err}",
                           index=name, index_uuid="_na_")
        match = self.s.matching_template(name)
        if match and match[1].get("data_stream") is not None:
            raise os_error(400, "illegal_argument_exception", f"cannot create index with name [{name}], because it "
                           f"matches with template [{match[0]}] that creates data streams only, use create data stream api instead")
        body = body or {}
        for k in body:
            if k not in ("settings", "mappings", "aliases"):
                raise os_error(400, "illegal_argument_exception", f"unknown key [{k}] for create index")
        self.s.create_index(name, body)
        return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}

    def index_admin(self, cmd, expr, params):
        found = self.s.resolve_search(expr, {**params, "allow_no_indices": params.get("allow_no_indices", "false")})
        if cmd == "DELETE":
            for idx in found:
                if idx.data_stream:
                    raise os_error(400, "illegal_argument_exception", f"index [{idx.name}] is the write index for data "
                                   f"stream [{idx.data_stream}] and cannot be deleted")
                del self.s.indices[idx.name]
            return 200, {"acknowledged": True}
        return 200, {i.name: {"aliases": i.aliases, "mappings": i.mappings, "settings": self._settings(i)} for i in found}

    @staticmethod
    def _settings(idx):
        flat = {**idx.settings, "index.uuid": idx.uuid, "index.provided_name": idx.name,
                "index.creation_date": str(idx.created), "index.version.created": "136377827"}
        return nest_settings(flat)

    def mapping_or_settings(self, cmd, action, expr, body, params):
        found = self.s.resolve_search(expr, params)
        if not found and "*" not in expr:
            raise index_not_found(expr)
        if action == "_settings":
            return 200, {i.name: {"settings": self._settings(i)} for i in found}
        if cmd == "GET":
            return 200, {i.name: {"mappings": i.mappings} for i in found}
        new = validate_mappings(body or {})
        merged = [(i, merge_mappings(i.mappings, new)) for i in found]
        for i, m in merged:
            i.mappings = m
        return 200, {"acknowledged": True}

    def cat_indices(self, expr, params):
        found = self.s.resolve_search(expr, {"ignore_unavailable": "true"}) if expr != "*" else \
            [i for i in self.s.indices.values()]
        rows = []
        for i in found:
            size = sum(len(json.dumps(d["_source"])) for d in i.docs.values())
            rows.append({"health": "green", "status": "open", "index": i.name, "uuid": i.uuid, "pri": "1", "rep": "1",
                         "docs.count": str(len(i.docs)), "docs.deleted": "0", "store.size": f"{size}b",
                         "pri.store.size": f"{size}b"})
        if params.get("s"):
            key = params["s"].split(":")[0]
            rows.sort(key=lambda r: (int(r[key]) if r.get(key, "").isdigit() else r.get(key, "")),
                      reverse=params["s"].endswith(":desc"))
        if params.get("h"):
            rows = [{h: r.get(h) for h in params["h"].split(",")} for r in rows]
        if params.get("format") == "json":
            return 200, rows
        if params.get("format") not in (None, "txt", "text"):
            raise unsupported(f"_cat format [{params['format']}]")
        cols = list(rows[0]) if rows else (params.get("h") or "health,status,index,uuid,pri,rep,docs.count,"
                                                              "docs.deleted,store.size,pri.store.size").split(",")
        table = ([cols] if "v" in params else []) + [[str(r[c]) for c in cols] for r in rows]
        widths = [max(len(row[k]) for row in table) for k in range(len(cols))] if table else []
        text = "".join(" ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n" for row in table)
        return 200, text

    # ---- documents
    def single_doc(self, cmd, action, expr, did, body, params):
        if cmd in ("GET", "HEAD"):
            idx = self.s.indices.get(expr) or (self.s.resolve_search(expr, {}) or [None])[0]
            if idx is None:
                raise index_not_found(expr)
            doc = idx.docs.get(did)
            if doc is None:
                return 404, {"_index": idx.name, "_id": did, "found": False}
            return 200, {"_index": idx.name, "_id": did, "_version": doc["_version"], "_seq_no": doc["_seq_no"],
                         "_primary_term": PRIMARY_TERM, "found": True, "_source": doc["_source"]}
        op = "delete" if cmd == "DELETE" else "create" if action == "_create" or params.get("op_type") == "create" else "index"
        meta = {k: (int(v) if k in ("if_seq_no", "if_primary_term", "version") else v)
                for k, v in params.items() if k in ("if_seq_no", "if_primary_term", "version", "version_type", "require_alias")}
        if op != "delete" and body is None:
            raise os_error(400, "action_request_validation_exception", "Validation Failed: 1: source is missing;")
        item = {"op": op, "meta": meta, "index": expr, "id": did, "line": 1,
                "source": json.dumps(body).encode() if body is not None else None}
        try:
            if op == "delete" and expr not in self.s.indices:
                raise index_not_found(expr)
            status, res = self.store.write(item)
        except DocError as e:
            cause = e.body(expr, item.get("resolved").uuid if item.get("resolved") else "_na_")
            raise ApiError(e.status, {"error": {"root_cause": [cause], **cause}, "status": e.status})
        return status, res

    # ---- search
    def search(self, expr, body, params, count=False):
        allowed = {"query"} if count else {"query", "size", "from", "sort", "_source", "track_total_hits", "timeout",
                                           "version", "seq_no_primary_term", "stored_fields", "terminate_after"}
        for k in body:
            if k in ("aggs", "aggregations", "highlight", "collapse", "search_after", "post_filter", "suggest", "pit"):
                raise unsupported(f"search [{k}]")
            if k not in allowed:
                raise os_error(400, "parsing_exception", f"Unknown key for a START_OBJECT in [{k}]." if not count
                               else f"request does not support [{k}]")
        node = parse_query(body.get("query", {"match_all": {}}))
        indices = self.s.resolve_search(expr, params)
        hits = [(i, d, doc) for i in indices for d, doc in i.docs.items() if eval_query(node, i, d, doc["_source"])]
        shards = {"total": len(indices), "successful": len(indices), "skipped": 0, "failed": 0}
        if count:
            return {"count": len(hits), "_shards": shards}
        size = int(params.get("size", body.get("size", 10)))
        frm = int(params.get("from", body.get("from", 0)))
        if size < 0 or frm < 0:
            raise os_error(400, "illegal_argument_exception", "[from] and [size] parameters cannot be negative")
        if frm + size > 10000:
            raise os_error(400, "illegal_argument_exception", f"Result window is too large, from + size must be less than "
                           f"or equal to: [10000] but was [{frm + size}]. See the scroll api for a more efficient way to "
                           f"request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.")
        sorts = self._sort_spec(body.get("sort"))
        for field, order, missing_type in reversed(sorts):
            hits = self._sorted(hits, field, order, missing_type)
        tth = body.get("track_total_hits", params.get("track_total_hits", True if count else 10000))
        tth = {"true": True, "false": False}.get(str(tth).lower(), tth)
        total = {"value": len(hits), "relation": "eq"}
        if tth is not True and isinstance(tth, int) and not isinstance(tth, bool) and len(hits) > int(tth):
            total = {"value": int(tth), "relation": "gte"}
        out = []
        for i, d, doc in hits[frm:frm + size]:
            h = {"_index": i.name, "_id": d, "_score": None if sorts else 1.0}
            if body.get("version"):
                h["_version"] = doc["_version"]
            if body.get("seq_no_primary_term"):
                h.update(_seq_no=doc["_seq_no"], _primary_term=PRIMARY_TERM)
            src = filter_source(doc["_source"], body.get("_source"))
            if src is not None:
                h["_source"] = src
            if sorts:
                h["sort"] = [self._first_key(i, d, doc, f) for f, _, _ in sorts]
            out.append(h)
        hits_obj = {"total": total, "max_score": None if sorts or not hits else 1.0, "hits": out}
        if tth is False:
            del hits_obj["total"]
        elif params.get("rest_total_hits_as_int") == "true":
            hits_obj["total"] = total["value"]
        return {"took": 1, "timed_out": False, "_shards": shards, "hits": hits_obj}

    @staticmethod
    def _sort_spec(spec):
        out = []
        for s in (spec if isinstance(spec, list) else [spec] if spec else []):
            if isinstance(s, str):
                out.append((s, "desc" if s == "_score" else "asc", None))
            else:
                (f, o), = s.items()
                o = o if isinstance(o, dict) else {"order": o}
                out.append((f, o.get("order", "asc"), o.get("unmapped_type")))
        return out

    def _first_key(self, idx, did, doc, field):
        if field == "_score":
            return 1.0
        t, fm, vals = field_values(idx, field, did, doc["_source"])
        keys = [k for k in (_safe_key(t, fm, v) for v in vals) if k is not None]
        return (min(keys) if keys else None) if t else None

    def _sorted(self, hits, field, order, unmapped_type):
        if field in ("_score", "_doc"):
            return hits
        for i in {h[0] for h in hits}:
            r = resolve_field(i.mappings, field)
            if r is None and unmapped_type is None and field not in ("_id", "_index"):
                raise shard_error(f"No mapping found for [{field}] in order to sort on")
            if r and r[0] in ("text", "match_only_text"):
                raise os_error(400, "illegal_argument_exception", f"Text fields are not optimised for operations that "
                               f"require per-document field data like aggregations and sorting, so these operations are "
                               f"disabled by default. Please use a keyword field instead. Alternatively, set "
                               f"fielddata=true on [{field}] in order to load field data by uninverting the inverted index.")
        keyed = [(self._first_key(i, d, doc, field), n, (i, d, doc)) for n, (i, d, doc) in enumerate(hits)]
        present = sorted([k for k in keyed if k[0] is not None], key=lambda k: (str(type(k[0])), k[0]),
                         reverse=order == "desc")
        return [k[2] for k in present] + [k[2] for k in keyed if k[0] is None]


# --------------------------------------------------------------------------- OpenSearch Dashboards saved objects
# What `/_dashboards/api/saved_objects/...` does on an Amazon OpenSearch Service
# domain (OpenSearch Dashboards 2.x behind the same endpoint and auth), after
# src/core/server/saved_objects/{routes,import} in OpenSearch-Dashboards.
SO_TYPES = {"index-pattern": "indexPatternApp", "search": "discoverApp", "visualization": "visualizeApp",
            "dashboard": "dashboardApp", "config": "advancedSettingsApp", "query": "search"}  # type -> management icon
# The newest migration each type has in OpenSearch Dashboards 2.x (what it writes as migrationVersion).
SO_MIGRATIONS = {"index-pattern": "7.6.0", "search": "7.9.3", "visualization": "7.10.0", "dashboard": "7.9.3",
                 "config": "7.9.0"}
SO_KEYS = {"type", "id", "attributes", "references", "migrationVersion", "updated_at", "version", "namespaces",
           "originId"}
OSD_REASONS = {400: "Bad Request", 404: "Not Found", 415: "Unsupported Media Type"}
GRID_COLUMNS = 48


def osd_error(status, message):
    return ApiError(status, {"statusCode": status, "error": OSD_REASONS[status], "message": message})


def _semver(v):
    return tuple(int(x) for x in v.split(".")) if re.fullmatch(r"\d+\.\d+\.\d+", v) else None


def parse_multipart(body, ctype):
    """multipart/form-data (RFC 7578) -> [(headers dict, content bytes)], strictly: CRLF line breaks, a
    closing delimiter, a Content-Disposition of form-data with a name on every part."""
    m = re.search(r';\s*boundary=(?:"([^"]+)"|([^;\s]+))', ctype, re.I)
    if not m:
        raise osd_error(400, "Invalid content-type header: multipart missing boundary")
    delim = b"--" + (m.group(1) or m.group(2)).encode()

    def bad(why):
        return osd_error(400, f"Invalid multipart payload format: {why}")
    if not body.startswith(delim + b"\r\n"):
        raise bad("the body does not start with the boundary line")
    parts, pos = [], len(delim) + 2
    while True:
        end = body.find(b"\r\n" + delim, pos)
        if end < 0:
            raise bad("no closing boundary")
        parts.append(body[pos:end])
        after = end + 2 + len(delim)
        if body[after:after + 2] == b"--":
            break
        if body[after:after + 2] != b"\r\n":
            raise bad("a boundary line is not followed by CRLF")
        pos = after + 2
    out = []
    for part in parts:
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            raise bad("a part has no blank line after its headers")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            k, colon, v = line.partition(":")
            if not colon:
                raise bad(f"malformed part header {line!r}")
            headers[k.strip().lower()] = v.strip()
        disp = headers.get("content-disposition", "")
        if not re.match(r"form-data\s*(;|$)", disp, re.I):
            raise bad("a part has no Content-Disposition: form-data")
        pairs = re.findall(r';\s*([\w*]+)=(?:"([^"]*)"|([^;\s]*))', disp)
        params = {k.lower(): quoted or bare for k, quoted, bare in pairs}
        if "name" not in params:
            raise bad("a part has no name")
        out.append((params, headers, content))
    return out


class Dashboards:
    """The saved objects API of OpenSearch Dashboards (called with the state lock held)."""

    def __init__(self, state, headers):
        self.s, self.headers = state, headers

    def route(self, cmd, segs, query, body):
        if cmd not in ("GET", "HEAD", "OPTIONS") and not (self.headers.get("osd-xsrf") is not None
                                                          or self.headers.get("osd-version") is not None):
            raise osd_error(400, "Request must contain a osd-xsrf header.")
        rest = segs[2:] if segs[:2] == ["api", "saved_objects"] else None
        if rest == ["_import"] and cmd == "POST":
            return self.import_objects(query, body)
        if rest == ["_find"] and cmd == "GET":
            return self.find(query)
        if rest is not None and len(rest) == 2 and cmd == "GET" and rest[0] != "_find":
            return self.get(*rest)
        raise osd_error(404, "Not Found")

    @staticmethod
    def _query(query, known, implemented):
        out = {}
        for k, v in parse_qsl(query, keep_blank_values=True):
            if k not in known:
                raise osd_error(400, f"[request query.{k}]: definition for this key is missing")
            if k not in implemented:
                raise osd_error(400, f"opensearch_mock does not implement the query parameter [{k}]")
            out.setdefault(k, []).append(v)
        return out

    @staticmethod
    def _bool(q, k):
        vals = q.get(k, ["false"])
        if len(vals) != 1 or vals[0] not in ("true", "false"):
            raise osd_error(400, f"[request query.{k}]: expected value of type [boolean] but got [{vals!r}]")
        return vals[0] == "true"

    @staticmethod
    def _int(q, k, default, lo):
        vals = q.get(k, [str(default)])
        if len(vals) != 1 or not re.fullmatch(r"\d+", vals[0]) or int(vals[0]) < lo:
            raise osd_error(400, f"[request query.{k}]: expected an integer >= {lo} but got [{vals!r}]")
        return int(vals[0])

    def _public(self, o):
        return {k: copy.deepcopy(o[k]) for k in ("id", "type", "updated_at", "version", "attributes", "references",
                                                  "migrationVersion")}

    def get(self, otype, oid):
        if otype not in SO_TYPES:
            raise osd_error(400, f"Unsupported saved object type: '{otype}': Bad Request")
        o = self.s.saved_objects.get((otype, oid))
        if o is None:
            raise osd_error(404, f"Saved object [{otype}/{oid}] not found")
        return 200, self._public(o)

    def find(self, query):
        q = self._query(query, {"type", "per_page", "page", "search", "search_fields", "fields", "sort_field",
                                "has_reference", "default_search_operator", "namespaces", "workspaces"},
                        {"type", "per_page", "page"})
        if "type" not in q:
            raise osd_error(400, "[request query.type]: expected at least one defined value but got [undefined]")
        per_page, page = self._int(q, "per_page", 20, 0), self._int(q, "page", 1, 1)
        found = [o for (t, _), o in sorted(self.s.saved_objects.items()) if t in q["type"]]
        chunk = found[(page - 1) * per_page:page * per_page]
        return 200, {"page": page, "per_page": per_page, "total": len(found),
                     "saved_objects": [{**self._public(o), "score": 0} for o in chunk]}

    # ---- import
    def import_objects(self, query, body):
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "multipart/form-data":
            raise osd_error(415, "Unsupported Media Type")
        parts = parse_multipart(body or b"", ctype)  # hapi reads the payload, then validates query and body
        q = self._query(query, {"overwrite", "createNewCopies", "workspaces", "dataSourceId"},
                        {"overwrite", "createNewCopies"})
        overwrite, new_copies = self._bool(q, "overwrite"), self._bool(q, "createNewCopies")
        if overwrite and new_copies:
            raise osd_error(400, "[request query]: cannot use [overwrite] with [createNewCopies]")
        files = []
        for params, _, content in parts:
            if params["name"] != "file":
                raise osd_error(400, f"[request body.{params['name']}]: definition for this key is missing")
            if "filename" not in params:
                raise osd_error(400, "[request body.file]: expected value of type [Stream] but got [string]")
            files.append((params["filename"], content))
        if not files:
            raise osd_error(400, "[request body.file]: expected value of type [Stream] but got [undefined]")
        if len(files) > 1:  # hapi would make an array of them, which is not a stream either
            raise osd_error(400, "[request body.file]: expected value of type [Stream] but got [Array]")
        filename, content = files[0]
        ext = ("." + filename.rsplit(".", 1)[1].lower()) if "." in filename.rsplit("/", 1)[-1] else ""
        if ext != ".ndjson":
            raise osd_error(400, f"Invalid file extension {ext}")
        objects = self._read_ndjson(content)
        return 200, self._import(objects, overwrite, new_copies)

    def _read_ndjson(self, content):
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as e:
            raise osd_error(400, f"the file is not UTF-8: {e}")
        objects, seen, dupes = [], set(), []
        for n, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise osd_error(400, f"Unexpected token in JSON at line {n}: {e}")
            if isinstance(obj, dict) and obj.get("exportedCount"):
                continue  # the export summary line
            self._validate(obj, n)
            key = (obj["type"], obj["id"])
            if key in seen:
                dupes.append(f"{key[0]}:{key[1]}")
            seen.add(key)
            objects.append(obj)
        if dupes:
            raise osd_error(400, f"Non-unique import objects detected: [{','.join(dupes)}]")
        return objects

    def _validate(self, obj, n):
        """The mock's own checks (OpenSearch Dashboards stores what it is given and fails when it renders)."""
        def bad(why):
            ident = f"{obj.get('type')} [{obj.get('id')}]" if isinstance(obj, dict) else "the object"
            return osd_error(400, f"line {n}: {ident}: {why}")

        def json_string(holder, key, kind, where, required=True):
            if key not in holder:
                if required:
                    raise bad(f"{where}{key} is missing")
                return None
            v = holder[key]
            if not isinstance(v, str):
                raise bad(f"{where}{key} must be a JSON string, as Dashboards stores it, not {type(v).__name__}")
            try:
                parsed = json.loads(v)
            except ValueError as e:
                raise bad(f"{where}{key} is not valid JSON: {e}")
            if not isinstance(parsed, kind):
                raise bad(f"{where}{key} must encode a JSON {'object' if kind is dict else 'array'}")
            return parsed
        if not isinstance(obj, dict):
            raise osd_error(400, f"line {n}: a saved object must be a JSON object")
        extra = sorted(set(obj) - SO_KEYS)
        if extra:
            raise bad(f"unknown properties {extra} (OpenSearch Dashboards 2.x exports have none such; "
                      "coreMigrationVersion comes from Kibana 7.12+)")
        if not isinstance(obj.get("type"), str) or not obj["type"]:
            raise bad("type must be a non-empty string")
        if not isinstance(obj.get("id"), str) or not obj["id"]:
            raise bad("id must be a non-empty string")
        attrs = obj.get("attributes")
        if not isinstance(attrs, dict):
            raise bad("attributes must be an object")
        refs = obj.get("references", [])
        if not isinstance(refs, list):
            raise bad("references must be a list")
        names = set()
        for r in refs:
            if not isinstance(r, dict) or set(r) != {"name", "type", "id"} or \
                    not all(isinstance(r[k], str) and r[k] for k in r):
                raise bad(f"a reference must be {{name, type, id}} with non-empty strings, not {r!r}")
            if r["name"] in names:
                raise bad(f"two references are named {r['name']!r}")
            names.add(r["name"])
        by_name = {r["name"]: r for r in refs}

        def ref(name, rtype, what):
            r = by_name.get(name)
            if r is None:
                raise bad(f"{what} names reference {name!r}, which is not in references")
            if rtype and r["type"] != rtype:
                raise bad(f"reference {name!r} ({what}) must be of type {rtype}, not {r['type']}")
        otype = obj["type"]
        mv = obj.get("migrationVersion", {})
        if not isinstance(mv, dict) or not all(isinstance(v, str) and _semver(v) for v in mv.values()):
            raise bad("migrationVersion must map types to x.y.z versions")
        for t, v in mv.items():
            known = SO_MIGRATIONS.get(t)
            if known is None or _semver(v) > _semver(known):
                raise bad(f'Document "{obj["id"]}" has property "{t}" which belongs to a more recent version of '
                          f"OpenSearch Dashboards [{v}]. The last known version is [{known}]")
        if otype not in SO_TYPES:
            return  # answered per object, as unsupported_type
        if otype != "config" and (not isinstance(attrs.get("title"), str) or not attrs["title"].strip()):
            raise bad("attributes.title must be a non-empty string")
        meta = attrs.get("kibanaSavedObjectMeta")
        source = None
        if meta is not None:
            if not isinstance(meta, dict):
                raise bad("attributes.kibanaSavedObjectMeta must be an object")
            source = json_string(meta, "searchSourceJSON", dict, "attributes.kibanaSavedObjectMeta.",
                                 required=otype in ("search", "visualization"))
        elif otype in ("search", "visualization"):
            raise bad("attributes.kibanaSavedObjectMeta.searchSourceJSON is missing")
        if source is not None:
            if "index" in source:
                raise bad("searchSourceJSON names its index pattern by id; export it as indexRefName + a reference")
            if "indexRefName" in source:
                ref(source["indexRefName"], "index-pattern", "searchSourceJSON.indexRefName")
            q = source.get("query", {"query": "", "language": "kuery"})
            if not (isinstance(q, dict) and {"query", "language"} <= set(q)):
                raise bad("searchSourceJSON.query must be {query, language}")
            if not isinstance(source.get("filter", []), list):
                raise bad("searchSourceJSON.filter must be a list")
        if otype == "index-pattern":
            if "timeFieldName" in attrs and not isinstance(attrs["timeFieldName"], str):
                raise bad("attributes.timeFieldName must be a string")
            fields = json_string(attrs, "fields", list, "attributes.", required=False)
            if fields is not None:
                if not all(isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("type"), str)
                           for f in fields):
                    raise bad("every entry of attributes.fields needs a name and a type")
                time_field = attrs.get("timeFieldName")
                if time_field and not any(f["name"] == time_field and f["type"] == "date" for f in fields):
                    raise bad(f"timeFieldName {time_field!r} is not a date field of attributes.fields")
            json_string(attrs, "fieldFormatMap", dict, "attributes.", required=False)
        elif otype == "search":
            columns = attrs.get("columns", [])
            if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
                raise bad("attributes.columns must be a list of field names")
            sort = attrs.get("sort", [])
            if not isinstance(sort, list) or not all(isinstance(s, list) and len(s) == 2 and s[1] in ("asc", "desc")
                                                     for s in sort):
                raise bad('attributes.sort must be a list of [field, "asc"|"desc"]')
        elif otype == "visualization":
            vis = json_string(attrs, "visState", dict, "attributes.")
            if not isinstance(vis.get("type"), str) or not vis["type"]:
                raise bad("visState.type must be a non-empty string")
            if not isinstance(vis.get("aggs"), list):
                raise bad("visState.aggs must be a list")
            if not isinstance(vis.get("params"), dict):
                raise bad("visState.params must be an object")
            for a in vis["aggs"]:
                named = isinstance(a, dict) and all(isinstance(a.get(k), str) and a[k]
                                                    for k in ("id", "type", "schema"))
                if not named or not isinstance(a.get("params"), dict):
                    raise bad(f"every visState.aggs entry needs id, type, schema and params: {a!r}")
            json_string(attrs, "uiStateJSON", dict, "attributes.", required=False)
            if "savedSearchRefName" in attrs:
                ref(attrs["savedSearchRefName"], "search", "savedSearchRefName")
            elif vis["aggs"] and "indexRefName" not in (source or {}):
                raise bad("a visualization with aggregations needs an index pattern (searchSourceJSON.indexRefName) "
                          "or a saved search (savedSearchRefName)")
        elif otype == "dashboard":
            panels = json_string(attrs, "panelsJSON", list, "attributes.")
            json_string(attrs, "optionsJSON", dict, "attributes.", required=False)
            indices = set()
            for p in panels:
                if not isinstance(p, dict) or not isinstance(p.get("panelRefName"), str):
                    raise bad(f"every panel needs a panelRefName: {p!r}")
                ref(p["panelRefName"], None, "panelsJSON")
                g = p.get("gridData")
                if not isinstance(g, dict) or not all(isinstance(g.get(k), int) and not isinstance(g.get(k), bool)
                                                      for k in ("x", "y", "w", "h")) or not isinstance(g.get("i"), str):
                    raise bad(f"panel {p['panelRefName']}: gridData needs integer x, y, w, h and a string i")
                if g["x"] < 0 or g["y"] < 0 or g["w"] < 1 or g["h"] < 1 or g["x"] + g["w"] > GRID_COLUMNS:
                    raise bad(f"panel {p['panelRefName']}: gridData {g} does not fit the {GRID_COLUMNS}-column grid")
                if p.get("panelIndex", g["i"]) in indices:
                    raise bad(f"panel {p['panelRefName']}: panelIndex {p.get('panelIndex')!r} is used twice")
                indices.add(p.get("panelIndex", g["i"]))
        elif otype == "query":
            qv = attrs.get("query")
            if not (isinstance(qv, dict) and {"query", "language"} <= set(qv)):
                raise bad("attributes.query must be {query, language}")

    def _import(self, objects, overwrite, new_copies):
        store = self.s.saved_objects
        errors, failed = [], set()

        def error(o, err):
            title = o["attributes"].get("title")
            errors.append({"id": o["id"], "type": o["type"], "title": title,
                           "meta": {"title": title, "icon": SO_TYPES.get(o["type"])}, "error": err})
            failed.add((o["type"], o["id"]))
        collected = []
        for o in objects:
            if o["type"] in SO_TYPES:
                collected.append(o)
            else:
                error(o, {"type": "unsupported_type"})
        in_file = {(o["type"], o["id"]) for o in collected}
        # Stricter than Dashboards, which checks only index-pattern and search references here (a missing
        # visualization shows as an error panel when the dashboard is opened).
        for o in collected:
            missing = [{"type": r["type"], "id": r["id"]} for r in o.get("references", [])
                       if (r["type"], r["id"]) not in in_file and (r["type"], r["id"]) not in store]
            if missing:
                error(o, {"type": "missing_references", "references": missing})
        existed = set()
        ids = {}
        if new_copies:
            ids = {(o["type"], o["id"]): str(uuid.uuid4()) for o in collected}
        else:
            for o in collected:
                key = (o["type"], o["id"])
                if key in store:
                    existed.add(key)
                    if not overwrite:
                        error(o, {"type": "conflict"})
        created = []
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        for o in collected:
            key = (o["type"], o["id"])
            if key in failed:
                continue
            dest = ids.get(key, o["id"])
            refs = [{**r, "id": ids.get((r["type"], r["id"]), r["id"])} for r in o.get("references", [])]
            self.s.saved_object_seq += 1
            version = base64.b64encode(f"[{self.s.saved_object_seq},1]".encode()).decode()
            mv = {o["type"]: SO_MIGRATIONS[o["type"]]} if o["type"] in SO_MIGRATIONS else {}
            store[(o["type"], dest)] = {"id": dest, "type": o["type"], "updated_at": now, "version": version,
                                        "attributes": copy.deepcopy(o["attributes"]), "references": refs,
                                        "migrationVersion": mv}
            r = {"type": o["type"], "id": o["id"],
                 "meta": {"title": o["attributes"].get("title"), "icon": SO_TYPES[o["type"]]}}
            if key in existed:
                r["overwrite"] = True
            if new_copies:
                r["destinationId"] = dest
            created.append(r)
        out = {"successCount": len(created), "success": not errors}
        if created:
            out["successResults"] = created
        if errors:
            out["errors"] = errors
        return out


# --------------------------------------------------------------------------- main
class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--sigv4", metavar="ACCESS_KEY:SECRET_KEY:REGION:SERVICE")
    ap.add_argument("--basic", metavar="USER:PASS")
    ap.add_argument("--exit-on-stdin-eof", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    cfg = ap.parse_args(argv)
    if cfg.sigv4:
        parts = cfg.sigv4.split(":")
        if len(parts) != 4 or not all(parts):
            ap.error("--sigv4 needs ACCESS_KEY:SECRET_KEY:REGION:SERVICE")
        cfg.sigv4 = tuple(parts)
        import botocore.auth  # noqa: F401  fail fast if botocore is missing
    if cfg.basic and ":" not in cfg.basic:
        ap.error("--basic needs USER:PASS")
    server = Server(("127.0.0.1", cfg.port), Handler)
    server.cfg, server.state = cfg, State()

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if cfg.exit_on_stdin_eof:
        def watch():
            while sys.stdin.buffer.read(65536):
                pass
            stop()
        threading.Thread(target=watch, daemon=True).start()
    sys.stdout.write(f"READY http://127.0.0.1:{server.server_address[1]}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
