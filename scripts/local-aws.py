#!/usr/bin/env python3
"""`make local`: the deployment's data plane in the local AWS, from infra/.

`local-aws.py apply` creates in the moto server at $AWS_ENDPOINT_URL the
buckets (versioned as in AWS), queues (with their dead-letter redrive), the
raw bucket's notification to the ingest queue, the Kinesis stream, the
Firehose delivery stream into the raw bucket, the DynamoDB tables (keys and
TTL), the SNS topic, the Glue database, the alert rules object and the
CodeDeploy application with its deployment groups (no deployment runs
locally) that `terraform apply` creates, with the names and settings infra/ gives them:
the description is infra/*.tf itself, evaluated by tf_eval.py, not a second
copy. It writes, for every function the configuration deploys,
`.local/<function>.env` (the environment Terraform sets on it, with the
local endpoint added; `cargo lambda watch` reads it through each function's
[package.metadata.lambda.watch]) and `.local/outputs.json` (the root
module's outputs that are known locally). Running it again is harmless:
what exists is kept.

A bucket of aws_log_sources (`--var 'aws_log_sources=[...]'`) that the
local AWS lacks gets an empty stand-in with the notification infra/ gives it.

`local-aws.py put FILE [KEY]` uploads a file into the raw bucket (the
bucket's notification then queues it for fn-ingest), and `local-aws.py
sqs-event` turns the messages waiting in the ingest queue into the SQS
event Lambda's event source mapping would send, for `cargo lambda invoke
fn-ingest --data-file`.
"""

import argparse
import json
import os
import sys

import boto3
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tf_eval import Evaluator, Parser, TfError, Unknown  # noqa: E402

SUPPORTED = [
    # created in this order, so what a resource refers to mostly exists first
    "aws_s3_bucket",
    "aws_s3_bucket_versioning",
    "aws_sqs_queue",
    "aws_s3_bucket_notification",
    "aws_kinesis_stream",
    "aws_kinesis_firehose_delivery_stream",
    "aws_dynamodb_table",
    "aws_sns_topic",
    "aws_glue_catalog_database",
    "aws_s3_object",
    "aws_codedeploy_app",
    "aws_codedeploy_deployment_group",
]


def known(value, what):
    if isinstance(value, Unknown):
        raise TfError("%s needs %s, which only AWS knows" % (what, value.what))
    return value


class LocalAws:
    """The provider: one resource of infra/ applied to the local AWS."""

    def __init__(self, region, account):
        self.region, self.account = region, account
        self.clients = {}
        self.created = []

    def client(self, name):
        if name not in self.clients:
            self.clients[name] = boto3.client(name, region_name=self.region)
        return self.clients[name]

    def __call__(self, res):
        handler = getattr(self, res.type, None)
        if handler is None:
            return self.derived(res)
        out = handler(res)
        self.created.append((res.type, res.address, out.get("name") or out.get("id")))
        return out

    def derived(self, res):
        """Resources that are not created locally but whose attributes others
        name: a role's ARN follows from its name."""
        if res.type == "aws_iam_role":
            name = known(res.attr("name"), res.address)
            return {"name": name, "arn": "arn:aws:iam::%s:role/%s" % (self.account, name)}
        return {}

    def aws_s3_bucket(self, res):
        name = known(res.attr("bucket"), res.address + ".bucket")
        s3 = self.client("s3")
        try:
            if self.region == "us-east-1":
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
        except ClientError as e:
            if e.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise
        return {"id": name, "bucket": name, "arn": "arn:aws:s3:::" + name}

    def aws_s3_bucket_versioning(self, res):
        bucket = known(res.attr("bucket"), res.address)
        (conf,) = res.blocks("versioning_configuration")
        status = res.attr("status", scope=conf)
        self.client("s3").put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
        return {"id": bucket, "name": "%s (%s)" % (bucket, status)}

    def aws_sqs_queue(self, res):
        name = known(res.attr("name"), res.address + ".name")
        attrs = {}
        for arg, attr in [
            ("visibility_timeout_seconds", "VisibilityTimeout"),
            ("message_retention_seconds", "MessageRetentionPeriod"),
            ("delay_seconds", "DelaySeconds"),
            ("receive_wait_time_seconds", "ReceiveMessageWaitTimeSeconds"),
            ("redrive_policy", "RedrivePolicy"),
        ]:
            value = res.attr(arg)
            if value is not None:
                attrs[attr] = str(known(value, "%s.%s" % (res.address, arg)))
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return {"id": url, "url": url, "arn": arn, "name": name}

    def aws_s3_bucket_notification(self, res):
        bucket = known(res.attr("bucket"), res.address)
        queues = []
        for q in res.blocks("queue"):
            conf = {"QueueArn": known(res.attr("queue_arn", scope=q), res.address), "Events": res.attr("events", scope=q)}
            rules = [
                {"Name": name, "Value": value}
                for name, value in (("prefix", res.attr("filter_prefix", scope=q)), ("suffix", res.attr("filter_suffix", scope=q)))
                if value
            ]
            if rules:
                conf["Filter"] = {"Key": {"FilterRules": rules}}
            queues.append(conf)
        if res.blocks("lambda_function") or res.blocks("topic") or res.attr("eventbridge"):
            raise TfError("%s: only queue notifications are created locally" % res.address)
        s3 = self.client("s3")
        name = "%s -> %d queue(s)" % (bucket, len(queues))
        # A bucket infra/ does not create (an aws_log_sources bucket AWS
        # services write to) has an empty stand-in here, to upload samples to.
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as e:
            if e.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
                raise
            if self.region == "us-east-1":
                s3.create_bucket(Bucket=bucket)
            else:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.region})
            name += " (an empty local stand-in for the bucket)"
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queues})
        return {"id": bucket, "name": name}

    def aws_kinesis_stream(self, res):
        name = known(res.attr("name"), res.address)
        kinesis = self.client("kinesis")
        (mode,) = res.blocks("stream_mode_details") or [None]
        args = {"StreamName": name}
        if mode is not None and res.attr("stream_mode", scope=mode) == "ON_DEMAND":
            args["StreamModeDetails"] = {"StreamMode": "ON_DEMAND"}
        else:
            args["ShardCount"] = res.attr("shard_count") or 1
        try:
            kinesis.create_stream(**args)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceInUseException":
                raise
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
        return {"id": arn, "arn": arn, "name": name}

    def aws_kinesis_firehose_delivery_stream(self, res):
        name = known(res.attr("name"), res.address)
        if res.attr("destination") != "extended_s3":
            raise TfError("%s: only extended_s3 delivery streams are created locally" % res.address)
        (s3,) = res.blocks("extended_s3_configuration")
        a = lambda arg: res.attr(arg, scope=s3)  # noqa: E731
        conf = {
            "RoleARN": known(a("role_arn"), res.address + " role_arn"),
            "BucketARN": known(a("bucket_arn"), res.address + " bucket_arn"),
            "Prefix": a("prefix") or "",
            "ErrorOutputPrefix": a("error_output_prefix") or "",
            "CompressionFormat": a("compression_format") or "UNCOMPRESSED",
            "BufferingHints": {"SizeInMBs": a("buffering_size") or 5, "IntervalInSeconds": a("buffering_interval") or 300},
        }
        firehose = self.client("firehose")
        try:
            firehose.create_delivery_stream(
                DeliveryStreamName=name, DeliveryStreamType="DirectPut", ExtendedS3DestinationConfiguration=conf
            )
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceInUseException":
                raise
        arn = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamARN"]
        return {"id": arn, "arn": arn, "name": name}

    def aws_dynamodb_table(self, res):
        name = known(res.attr("name"), res.address)
        keys = [{"AttributeName": res.attr("hash_key"), "KeyType": "HASH"}]
        if res.attr("range_key"):
            keys.append({"AttributeName": res.attr("range_key"), "KeyType": "RANGE"})
        attributes = [
            {"AttributeName": res.attr("name", scope=b), "AttributeType": res.attr("type", scope=b)} for b in res.blocks("attribute")
        ]
        ddb = self.client("dynamodb")
        try:
            ddb.create_table(
                TableName=name, KeySchema=keys, AttributeDefinitions=attributes,
                BillingMode=res.attr("billing_mode") or "PROVISIONED",
                **({} if res.attr("billing_mode") == "PAY_PER_REQUEST" else {"ProvisionedThroughput": {
                    "ReadCapacityUnits": res.attr("read_capacity") or 1, "WriteCapacityUnits": res.attr("write_capacity") or 1}}),
            )
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceInUseException":
                raise
        for ttl in res.blocks("ttl"):
            if res.attr("enabled", scope=ttl):
                ddb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": res.attr("attribute_name", scope=ttl)},
                )
        arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
        return {"id": name, "name": name, "arn": arn}

    def aws_sns_topic(self, res):
        name = known(res.attr("name"), res.address)
        arn = self.client("sns").create_topic(Name=name)["TopicArn"]
        return {"id": arn, "arn": arn, "name": name}

    def aws_glue_catalog_database(self, res):
        name = known(res.attr("name"), res.address)
        glue = self.client("glue")
        try:
            glue.create_database(DatabaseInput={"Name": name, "Description": res.attr("description") or ""})
        except ClientError as e:
            if e.response["Error"]["Code"] != "AlreadyExistsException":
                raise
        return {"id": "%s:%s" % (self.account, name), "name": name}

    def aws_s3_object(self, res):
        bucket = known(res.attr("bucket"), res.address)
        key = known(res.attr("key"), res.address)
        source = res.attr("source")
        if source is not None:
            with open(source, "rb") as f:
                body = f.read()
        else:
            body = known(res.attr("content"), res.address).encode()
        etag = self.client("s3").put_object(Bucket=bucket, Key=key, Body=body)["ETag"]
        return {"id": key, "key": key, "bucket": bucket, "etag": etag, "name": "s3://%s/%s" % (bucket, key)}


    def aws_codedeploy_app(self, res):
        name = known(res.attr("name"), res.address)
        try:
            self.client("codedeploy").create_application(applicationName=name, computePlatform=res.attr("compute_platform") or "Server")
        except ClientError as e:
            if e.response["Error"]["Code"] != "ApplicationAlreadyExistsException":
                raise
        return {"id": name, "name": name}

    def aws_codedeploy_deployment_group(self, res):
        """A function's deployment group, as modules/codedeploy configures
        it (its alarms by name; the local AWS runs no deployment)."""
        app = known(res.attr("app_name"), res.address)
        name = known(res.attr("deployment_group_name"), res.address)
        args = {
            "applicationName": app,
            "deploymentGroupName": name,
            "serviceRoleArn": known(res.attr("service_role_arn"), res.address + " service_role_arn"),
        }
        if res.attr("deployment_config_name"):
            args["deploymentConfigName"] = res.attr("deployment_config_name")
        for style in res.blocks("deployment_style"):
            args["deploymentStyle"] = {"deploymentType": res.attr("deployment_type", scope=style),
                                       "deploymentOption": res.attr("deployment_option", scope=style)}
        for rollback in res.blocks("auto_rollback_configuration"):
            args["autoRollbackConfiguration"] = {"enabled": bool(res.attr("enabled", scope=rollback)),
                                                 "events": list(res.attr("events", scope=rollback) or [])}
        for alarms in res.blocks("alarm_configuration"):
            names = [known(n, res.address + " alarm") for n in res.attr("alarms", scope=alarms) or []]
            args["alarmConfiguration"] = {"enabled": bool(res.attr("enabled", scope=alarms)), "alarms": [{"name": n} for n in names]}
        try:
            self.client("codedeploy").create_deployment_group(**args)
        except ClientError as e:
            if e.response["Error"]["Code"] != "DeploymentGroupAlreadyExistsException":
                raise
        return {"id": name, "name": "%s/%s" % (app, name), "deployment_group_name": name}


def hcl_value(text):
    """`--var enable_collect=true`: the value as HCL reads it."""
    ev = Evaluator.__new__(Evaluator)
    return ev.evaluate(Parser(text).parse(), None, {})


def local_endpoint():
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint or not any(h in endpoint for h in ("127.0.0.1", "localhost", "[::1]")):
        sys.exit("local-aws.py: AWS_ENDPOINT_URL must name the local AWS on a loopback address (make local sets it)")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return endpoint, region


def apply(args):
    endpoint, region = local_endpoint()
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    variables = {"region": region}
    for item in args.var:
        name, _, text = item.partition("=")
        variables[name] = hcl_value(text)
    provider = LocalAws(region, account)
    ev = Evaluator(os.path.normpath(args.infra), variables, provider, account=account, region=region)
    try:
        modules = list(ev.root.all_modules())
        for rtype in SUPPORTED:
            for module in modules:
                for res in module.all_resources(rtype):
                    res.get("id")
        envs = function_environments(modules)
        outputs = {}
        for name in ev.root.config.outputs:
            try:
                value = ev.root.get(name)
            except TfError:
                continue  # an output of what is not emulated (a dashboard URL)
            if value is not None and not isinstance(value, Unknown) and "Unknown(" not in repr(value):
                outputs[name] = value
    except TfError as e:
        sys.exit("local-aws.py: %s" % e)

    for rtype, address, name in provider.created:
        print("%-38s %-62s %s" % (rtype, address, name))
    os.makedirs(args.env_dir, exist_ok=True)
    local = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for binary, env in sorted(envs.items()):
        path = os.path.join(args.env_dir, binary + ".env")
        with open(path, "w") as f:
            f.write("# %s's environment as infra/ sets it, for the local AWS (make local)\n" % binary)
            for key, value in sorted({**env, **local}.items()):
                if "\n" in value:
                    sys.exit("local-aws.py: %s's %s spans lines, which an env file cannot hold" % (binary, key))
                f.write("%s=%s\n" % (key, value))
        print("wrote %s (%d variables)" % (path, len(env) + len(local)))
    with open(os.path.join(args.env_dir, "outputs.json"), "w") as f:
        json.dump(outputs, f, indent=2, sort_keys=True)
    print("wrote %s" % os.path.join(args.env_dir, "outputs.json"))


def outputs(args):
    path = os.path.join(args.env_dir, "outputs.json")
    if not os.path.exists(path):
        sys.exit("local-aws.py: no %s: run `make local` first" % path)
    with open(path) as f:
        return json.load(f)


def put(args):
    _, region = local_endpoint()
    bucket = outputs(args)["raw_bucket"]
    key = args.key or os.path.basename(args.file)
    boto3.client("s3", region_name=region).upload_file(args.file, bucket, key)
    print("s3://%s/%s" % (bucket, key))


def sqs_event(args):
    """The messages waiting in the ingest queue, as the event source mapping
    delivers them (they stay in the queue, invisible for a minute, as with
    Lambda's own polling)."""
    _, region = local_endpoint()
    url = outputs(args)["ingest_queue_url"]
    sqs = boto3.client("sqs", region_name=region)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    records = []
    for _ in range(3):
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=60,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
        for m in got:
            records.append({
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": arn,
                "awsRegion": region,
            })
        if records and not got:
            break
    if not records:
        sys.exit("local-aws.py: no message in %s (did `local-aws.py put` upload into the raw bucket?)" % url)
    json.dump({"Records": records}, sys.stdout, indent=2)
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env-dir", default=".local", help="where the env files and outputs.json go (default .local)")
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("apply", help="create infra/'s data plane in the local AWS")
    a.add_argument("--infra", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "infra"))
    a.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a root variable, as HCL")
    a.set_defaults(run=apply)
    p = sub.add_parser("put", help="upload a file into the raw bucket")
    p.add_argument("file")
    p.add_argument("key", nargs="?")
    p.set_defaults(run=put)
    e = sub.add_parser("sqs-event", help="the ingest queue's waiting messages as an SQS event on stdout")
    e.set_defaults(run=sqs_event)
    args = ap.parse_args()
    args.run(args)


def function_environments(modules):
    """binary -> the environment Terraform gives it, for every function the
    configuration deploys (modules/lambda instances)."""
    envs = {}
    for module in modules:
        if os.path.basename(module.config.path) != "lambda" or "binary" not in module.config.variables:
            continue
        binary = module.var("binary")
        env = module.local("environment")
        missing = sorted(k for k, v in env.items() if isinstance(v, Unknown))
        if missing:
            raise TfError("%s's %s only AWS knows: %s" % (binary, ", ".join(missing), [env[k].what for k in missing]))
        envs[binary] = {k: str(v) for k, v in env.items()}
    return envs


if __name__ == "__main__":
    main()
