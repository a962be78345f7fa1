"""Smoke tests of the runtime wiring, as docs/local.md runs it: `cargo lambda
watch` runs the real function binary, `cargo lambda invoke --data-file
events/...` sends it a real-shaped event. fn-ingest: the object an SQS event
names lands in the curated bucket. fn-alerts: a scheduled event evaluates
the shipped alerts.toml over empty windows, and the silent services alert
once each on SNS, however often it runs.
Needs the local AWS that `make test` starts (LOGLAKE_TEST_ENDPOINT)."""
import gzip
import json
import os
import signal
import socket
import subprocess
import time
import uuid

import boto3
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENDPOINT = os.environ.get("LOGLAKE_TEST_ENDPOINT")
KEY = "checkout-web/2024/03/15/app log #1.ndjson.gz"  # what events/sqs-s3-put.json names, decoded


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def aws():
    if not ENDPOINT:
        pytest.fail("needs the local AWS: run with `make test`")
    s3 = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1")
    for b in ["loglake-raw"]:
        try:
            s3.create_bucket(Bucket=b)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    curated = "curated-watch-%s" % uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=curated)
    lines = "".join(json.dumps({"timestamp": "2024-03-15T02:%02d:00Z" % i, "level": "INFO",
                                "message": "checkout step %d" % i}) + "\n" for i in range(40))
    s3.put_object(Bucket="loglake-raw", Key=KEY, Body=gzip.compress(lines.encode()))
    return s3, curated


def watch_and_invoke(package, env_vars, data_file, invocations=1):
    """Start `cargo lambda watch -p package`, invoke it with data_file
    `invocations` times, return the answers."""
    port = free_port()
    env = dict(os.environ, PATH=os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"])
    cmd = ["cargo", "lambda", "watch", "-p", package, "--invoke-address", "127.0.0.1", "--invoke-port", str(port)]
    for k, v in dict(env_vars, AWS_ENDPOINT_URL=ENDPOINT).items():
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


def test_cargo_lambda_watch_and_invoke(aws, tmp_path):
    s3, curated = aws
    # The event names the upload by its ETag (fn-ingest reads that upload
    # only, with If-Match): the fixture's, made the uploaded object's.
    etag = s3.head_object(Bucket="loglake-raw", Key=KEY)["ETag"].strip('"')
    event = json.load(open(os.path.join(ROOT, "events", "sqs-s3-put.json")))
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["object"]["eTag"] = etag
    event["Records"][0]["body"] = json.dumps(body)
    data_file = tmp_path / "sqs-s3-put.json"
    data_file.write_text(json.dumps(event))
    [out] = watch_and_invoke("fn-ingest", {"CURATED_BUCKET": curated}, str(data_file))
    assert out == {"batchItemFailures": []}, out
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=curated).get("Contents", [])]
    manifests = [k for k in keys if k.startswith("_manifests/")]
    assert len(manifests) == 1, keys
    m = json.loads(s3.get_object(Bucket=curated, Key=manifests[0])["Body"].read())
    assert m["source"]["uri"] == "s3://loglake-raw/" + KEY
    assert m["rows_out"] == 40
    assert any(k.startswith("logs/dt=2024-03-15/hr=02/") for k in keys)


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
