"""Least privilege, held to what the code does.

- The "What each function may do" section of docs/security.md is exactly
  what scripts/security-doc.py writes from infra/policies and why.json.
- Every statement of a function's policy says why it is there, and the
  composition the document assumes is the one Terraform renders.
- A role that reads objects of a bucket may list it: without s3:ListBucket
  S3 answers a missing key with 403, which the functions (rightly) take for
  an error, so every first ingest would fail. moto answers 404 regardless,
  so only this check sees it. (One named object that must exist, the alert
  rules, is read without: missing is an error either way.)
- The functions' moto tests run under their policies (loglake_testkit::iam)
  and record every authorization moto decided (LOGLAKE_IAM_CALLS, which
  `make test` sets). Every grant must be used by some test, or be named in
  why.json as never called by the function's own code; nothing may have been
  refused.
"""
import collections
import fnmatch
import importlib.util
import json
import os
from pathlib import Path

import pytest

from test_infra import function_policy

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("security_doc", ROOT / "scripts" / "security-doc.py")
doc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(doc)

BASE = {"fn-base", "fn-vpc"}


def test_the_security_page_is_generated_from_the_policies():
    page = (ROOT / "docs" / "security.md").read_text()
    assert doc.PAGE == ROOT / "docs" / "security.md"
    assert doc.BEGIN in page and doc.END in page, "docs/security.md has no generated security section"
    start, end = page.index(doc.BEGIN), page.index(doc.END) + len(doc.END)
    assert page[start:end] == doc.section(), "docs/security.md's security section is stale: run scripts/security-doc.py --write"


def test_every_statement_says_why_and_no_reason_is_stale():
    reasons = doc.why()["statements"]
    templates = {t for parts in doc.FUNCTIONS.values() for t, _ in parts}
    assert set(reasons) == templates
    for t in templates:
        sids = [st["Sid"] for st in doc.statements(t)]
        assert len(sids) == len(set(sids)), f"{t}: duplicate Sid"
        assert set(reasons[t]) == set(sids), f"{t}: reasons for {sorted(reasons[t])}, statements {sorted(sids)}"
        assert all(len(r) > 20 for r in reasons[t].values())


@pytest.mark.parametrize("binary", sorted(doc.FUNCTIONS))
def test_the_document_composes_each_role_as_terraform_does(binary):
    rendered = [st["Sid"] for st in function_policy(binary, search=True, alerts=True, aws_logs=True)]
    documented = [st["Sid"] for t, _ in doc.FUNCTIONS[binary] if t not in BASE for st in doc.statements(t)]
    assert rendered == documented


@pytest.mark.parametrize("binary", sorted(doc.FUNCTIONS))
def test_a_role_that_reads_a_bucket_may_list_it(binary):
    reads, lists = set(), set()
    for st in function_policy(binary, search=True, alerts=True, aws_logs=True):
        for r in st["Resource"]:
            bucket, slash, key = r.partition("/")
            # One named object that must exist (the alert rules: a function
            # that cannot read them fails, 403 or 404 alike) needs no list.
            if "s3:GetObject" in st["Action"] and slash and "*" in key:
                reads.add(bucket)
            if "s3:ListBucket" in st["Action"] and not slash:
                lists.add(bucket)
    assert reads <= lists, f"{binary} reads objects of {sorted(reads - lists)} but may not list them (403 for a missing key)"


def records():
    where = os.environ.get("LOGLAKE_IAM_CALLS")
    if not where:
        pytest.skip("LOGLAKE_IAM_CALLS is not set: run through `make test`, after the Rust tests recorded their calls")
    out = collections.defaultdict(list)
    for p in sorted(Path(where).glob("*.json")):
        r = json.loads(p.read_text())
        out[r["function"]].append(r)
    return out


def granted(policy: dict):
    """(Sid, action, resource index, resource) of every grant."""
    for st in policy["Statement"]:
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for a in st["Action"]:
            for i, r in enumerate(resources):
                yield st["Sid"], a, i, r


@pytest.mark.parametrize("binary", sorted(doc.FUNCTIONS))
def test_every_grant_is_used_by_the_code_or_said_not_to_be(binary):
    recs = records()[binary]
    assert recs, f"no test recorded {binary}'s calls under its policy"
    template = [(st["Sid"], a) for t, _ in doc.FUNCTIONS[binary] if t not in BASE for st in doc.statements(t) for a in st["Action"]]
    not_called = doc.why()["not_called_by_the_code"]
    used = set()
    for r in recs:
        recorded = [(sid, a) for sid, a, i, _ in granted(r["policy"]) if i == 0]
        assert recorded == template, f"{binary}: a record of an older policy; run the Rust tests again"
        refused = [c for c in r["calls"] if not c[2]]
        assert not refused, f"{binary} was refused {refused}"
        for sid, action, i, resource in granted(r["policy"]):
            if any(c[0] == action and fnmatch.fnmatchcase(c[1], resource) for c in r["calls"]):
                used.add((sid, action, i))
    unused = []
    for sid, action, i, resource in granted(recs[0]["policy"]):
        explained = action in not_called or f"{action}@{binary}" in not_called
        if (sid, action, i) in used:
            assert not explained, f"{binary} calls {action} ({sid}), which why.json says the code never calls"
        elif not explained:
            unused.append(f"{sid}: {action} on {resource}")
    assert not unused, f"{binary}: granted, never called in the IAM-enforced tests, and not explained in why.json: {unused}"
