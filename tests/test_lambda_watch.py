"""Smoke tests of the runtime wiring, as docs/local.md runs it: `cargo lambda
watch` runs the real function binary, `cargo lambda invoke --data-file`
sends it a real-shaped event. fn-ingest: after `make local`'s
scripts/local-aws.py, with nothing but the environment file it wrote, an
upload into the raw bucket goes through the bucket's notification and the
ingest queue into the lake, with the alert rules read from their S3 object.
fn-alerts: a scheduled event evaluates the shipped alerts.toml over empty
windows, and the silent services alert once each on SNS, however often it
runs. Needs the local AWS that `make test` starts (LOGLAKE_TEST_ENDPOINT)."""
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

import boto3
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENDPOINT = os.environ.get("LOGLAKE_TEST_ENDPOINT")
KEY = "checkout-web/2024/03/15/app log #1.ndjson.gz"  # a key S3 events URL-encode (events/sqs-s3-put.json names it too)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_aws(env_dir, *args):
    """scripts/local-aws.py as `make local` runs it, against the test's local AWS."""
    env = dict(os.environ, AWS_ENDPOINT_URL=ENDPOINT, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "local-aws.py"), "--env-dir", str(env_dir), *args],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def watch_and_invoke(package, env_vars, data_file, invocations=1, env_file=None):
    """Start `cargo lambda watch -p package`, invoke it with data_file
    `invocations` times, return the answers. With env_file, the function's
    environment is that file's alone (what the package's
    [package.metadata.lambda.watch] env_file names, at another path)."""
    port = free_port()
    env = dict(os.environ, PATH=os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"])
    cmd = ["cargo", "lambda", "watch", "-p", package, "--invoke-address", "127.0.0.1", "--invoke-port", str(port)]
    if not env_file:
        # The package's metadata names .local/<fn>.env, which cargo lambda
        # refuses to start without: an empty one, and the variables here.
        env_file = os.path.join(tempfile.mkdtemp(), "empty.env")
        open(env_file, "w").close()
        env_vars = dict(env_vars, AWS_ENDPOINT_URL=ENDPOINT)
    cmd += ["--env-file", str(env_file)]
    for k, v in env_vars.items():
        cmd += ["--env-var", "%s=%s" % (k, v)]
    watch = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
    invoke = ["cargo", "lambda", "invoke", package, "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
              "--data-file", data_file, "--output-format", "json"]
    try:
        answers = []
        deadline = time.time() + 600
        while len(answers) < invocations:
            r = subprocess.run(invoke, cwd=ROOT, env=env, capture_output=True, text=True)
            if r.returncode == 0:
                answers.append(json.loads(r.stdout))
                continue
            assert not answers, "a later invocation failed: %s" % r.stderr
            assert watch.poll() is None, "cargo lambda watch exited"
            assert time.time() < deadline, "no answer from %s: %s" % (package, r.stderr)
            time.sleep(2)
        return answers
    finally:
        os.killpg(watch.pid, signal.SIGTERM)
        try:
            watch.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(watch.pid, signal.SIGKILL)


def test_make_local_then_watch_ingests_an_upload_through_the_queue(tmp_path):
    """docs/local.md's fn-ingest loop: `make local`, an upload, the queued
    event, `cargo lambda watch` with the written environment, `invoke`."""
    if not ENDPOINT:
        pytest.fail("needs the local AWS: run with `make test`")
    env_dir = tmp_path / "local"
    created = local_aws(env_dir, "apply")
    for kind in ("aws_s3_bucket_notification", "aws_sqs_queue", "aws_dynamodb_table", "aws_s3_object"):
        assert kind in created, created
    outputs = json.loads((env_dir / "outputs.json").read_text())
    env_file = env_dir / "fn-ingest.env"
    settings = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if not line.startswith("#"))
    assert settings["CURATED_BUCKET"] == outputs["curated_bucket"]
    assert settings["ALERT_RULES_URI"] == "s3://%s/_config/alerts.toml" % outputs["curated_bucket"]

    # Recent lines: the alert windows keep the last retention_hours only.
    start = (int(time.time()) // 3600 - 1) * 3600
    hour = time.strftime("dt=%Y-%m-%d/hr=%H", time.gmtime(start))
    lines = "".join(json.dumps({"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 60 * i)),
                                "level": "INFO", "service": "checkout-web", "message": "checkout step %d" % i}) + "\n"
                    for i in range(40))
    upload = tmp_path / "app.ndjson.gz"
    upload.write_bytes(gzip.compress(lines.encode()))
    local_aws(env_dir, "put", str(upload), KEY)
    s3 = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1")
    version = s3.head_object(Bucket=outputs["raw_bucket"], Key=KEY)["VersionId"]
    event = local_aws(env_dir, "sqs-event")
    data_file = tmp_path / "sqs-event.json"
    data_file.write_text(event)
    # S3 events carry the key URL-encoded (`+` for a space): fn-ingest decodes it.
    bodies = [json.loads(r["body"]) for r in json.loads(event)["Records"]]
    keys = [urllib.parse.unquote_plus(r["s3"]["object"]["key"]) for b in bodies for r in b.get("Records", [])]
    assert KEY in keys, event

    [out] = watch_and_invoke("fn-ingest", {}, str(data_file), env_file=env_file)
    assert out == {"batchItemFailures": []}, out
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=outputs["curated_bucket"]).get("Contents", [])]
    manifests = [k for k in keys if k.startswith("_manifests/")]
    sources = [json.loads(s3.get_object(Bucket=outputs["curated_bucket"], Key=k)["Body"].read()) for k in manifests]
    # The raw bucket is versioned: this upload is the manifest of its version.
    mine = [m for m in sources if m["source"]["uri"] == "s3://%s/%s" % (outputs["raw_bucket"], KEY)
            and m["source"]["identity"].endswith("#version=" + version)]
    assert len(mine) == 1, (manifests, mine)
    [m] = mine
    assert m["rows_out"] == 40
    assert any(k.startswith("logs/%s/" % hour) for k in keys), keys
    # The rules came from their object: the minute's counts are in the windows table.
    ddb = boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name="us-east-1")
    assert ddb.scan(TableName=outputs["alert_windows_table"])["Count"] > 0


def test_every_function_reads_the_environment_make_local_writes():
    """cargo lambda watch -p fn-x takes .local/fn-x.env (the path
    local-aws.py writes by default) with no --env-var at all."""
    import tomllib
    for crate in sorted(os.listdir(os.path.join(ROOT, "crates"))):
        if not crate.startswith("fn-"):
            continue
        with open(os.path.join(ROOT, "crates", crate, "Cargo.toml"), "rb") as f:
            meta = tomllib.load(f)["package"]["metadata"]["lambda"]["watch"]
        assert meta["env_file"] == ".local/%s.env" % crate, (crate, meta)
    src = open(os.path.join(ROOT, "scripts", "local-aws.py")).read()
    assert 'default=".local"' in src


def test_fn_alerts_on_a_schedule_alerts_once_per_silent_service():
    if not ENDPOINT:
        pytest.fail("needs the local AWS: run with `make test`")
    kw = dict(endpoint_url=ENDPOINT, region_name="us-east-1")
    ddb, sns, sqs = (boto3.client(n, **kw) for n in ("dynamodb", "sns", "sqs"))
    run = uuid.uuid4().hex[:8]
    windows, state = "alert-windows-%s" % run, "alert-state-%s" % run
    ddb.create_table(TableName=windows, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    ddb.create_table(TableName=state, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    topic = sns.create_topic(Name="alerts-%s" % run)["TopicArn"]
    inbox = sqs.create_queue(QueueName="inbox-%s" % run)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"FilterPolicy": json.dumps({"rule": ["service-silent"]})})

    answers = watch_and_invoke("fn-alerts", {
        "ALERT_RULES_FILE": os.path.join(ROOT, "alerts.toml"),
        "ALERT_WINDOWS_TABLE": windows, "ALERT_STATE_TABLE": state, "ALERT_TOPIC_ARN": topic,
        "ALERT_ATHENA_DATABASE": "shop_logs",
    }, "events/scheduled.json", invocations=2)

    silent = ["checkout-web", "payment-api", "order-api", "auth-api"]
    first, second = answers
    assert sorted(first["fired"]) == sorted("service-silent service=%s" % s for s in silent), first
    assert second["fired"] == [] and second["resolved"] == [], second
    got = []
    for _ in range(10):
        msgs = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        got += [json.loads(m["Body"]) for m in msgs]
        if len(got) >= len(silent) and not msgs:
            break
    assert len(got) == len(silent), got
    for note in got:
        assert note["Subject"].startswith("[CRITICAL] service-silent: "), note["Subject"]
        assert len(note["Subject"]) < 100
        body = json.loads(note["Message"])
        assert body["rule"] == "service-silent" and body["state"] == "firing"
        assert body["group"]["value"] in silent
        assert 'FROM "shop_logs"."logs"' in body["athena_query"]
        assert note["MessageAttributes"]["severity"]["Value"] == "critical"
        assert note["MessageAttributes"]["service"]["Value"] == body["group"]["value"]


def test_fn_collect_puts_the_fixtures_events_on_its_stream():
    """The fn-collect commands of docs/local.md: the API Gateway fixture through the
    real binary onto a Kinesis stream of the local AWS."""
    if not ENDPOINT:
        pytest.fail("needs the local AWS: run with `make test`")
    kinesis = boto3.client("kinesis", endpoint_url=ENDPOINT, region_name="us-east-1")
    stream = "collect-watch-%s" % uuid.uuid4().hex[:8]
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    [out] = watch_and_invoke("fn-collect", {"STREAM_NAME": stream, "AWS_REGION": "us-east-1"},
                             os.path.join(ROOT, "events", "apigw-v2-post-events.json"))
    assert out["statusCode"] == 202, out
    accepted = json.loads(out["body"])["accepted"]
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = kinesis.get_records(ShardIterator=it)["Records"]
    assert len(records) == accepted > 0
    for r in records:
        assert r["PartitionKey"].startswith("loglake-collect:")
        line = json.loads(r["Data"])
        assert line["source_format"] == "http" and line["event_id"]
