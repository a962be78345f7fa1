#!/usr/bin/env python3
"""A local AWS (moto) that enforces IAM, for the functions' integration tests.

The server every other test shares (`scripts/with-moto.sh`) accepts any
credentials; this one accepts only the access keys of IAM users it created,
and each call only when one of the user's policies allows it. The Rust tests
(`loglake_testkit::iam`) start one per test process, create a user per test
holding exactly a function's rendered policy (infra/policies), and run the
function's handler with that user's keys: a missing grant fails the test.

It also records every authorization moto decides: action, resource, and
whether it was allowed, per access key, so the tests can list which of a
policy's grants the code used.

Protocol (one JSON object per line):
- at start it prints `READY <url> <admin key id> <admin secret>`; the admin
  user holds `*` (to create the test's buckets, queues and tables and read
  back what the function wrote);
- `{"user": NAME, "policy": DOCUMENT}` on stdin creates the user with the
  policy as its only (inline) policy and answers `{"key": ..., "secret": ...}`;
- `{"calls": KEY_ID}` answers `{"calls": [[action, resource, allowed], ...]}`,
  each distinct decision once, in the order first seen;
- end of stdin stops the server (the test process exited).

What moto checks (moto 5): S3 calls against the object or bucket ARN, SQS
calls against the queue ARN; DynamoDB, SNS, Kinesis, Firehose and KMS calls
against `*`, so for those only the action is checked (`loglake_testkit::iam`
widens those statements' resources to `*` and says so). Conditions are not
evaluated. Signatures are not checked (see `record_decisions`). Calls moto makes
inside the server (S3 notifications to SQS,
Firehose delivering to S3) are not checked, as in AWS they are the
services' own.

usage: iam_moto.py
"""
import json
import logging
import sys
import threading
import urllib.request

import boto3
from moto.iam import access_control
from moto.server import ThreadedMotoServer

ADMIN_POLICY = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def record_decisions():
    """Wrap moto's authorization so every decision is kept per access key."""
    calls = {}
    lock = threading.Lock()
    original = access_control.IAMRequestBase.check_action_permitted

    def checked(self, resource):
        key = getattr(self._access_key, "_access_key_id", None) or "?"
        allowed = True
        try:
            return original(self, resource)
        except Exception:
            allowed = False
            raise
        finally:
            with lock:
                seen = calls.setdefault(key, {})
                seen.setdefault((self._action, resource, allowed), None)

    access_control.IAMRequestBase.check_action_permitted = checked
    # moto checks a signature by signing again what it parsed of the
    # request, which differs from what the Rust SDK signed for some
    # query-protocol bodies (SNS Publish with attributes): it would refuse
    # calls AWS accepts. Signatures are not what these tests are about; the
    # access key still names the user whose policies decide.
    access_control.IAMRequestBase.check_signature = lambda self: None
    return calls, lock


def main():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    calls, lock = record_decisions()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"

    def client(service, key="testing", secret="testing"):
        return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key=secret)

    def user(name, policy, iam):
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
        k = iam.create_access_key(UserName=name)["AccessKey"]
        return k["AccessKeyId"], k["SecretAccessKey"]

    admin = user("admin", ADMIN_POLICY, client("iam"))
    # From here on every call is checked (moto-api calls are not).
    req = urllib.request.Request(url + "/moto-api/reset-auth", data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req, timeout=10).read()
    iam = client("iam", *admin)
    print(f"READY {url} {admin[0]} {admin[1]}", flush=True)

    for line in sys.stdin:
        if not line.strip():
            continue
        ask = json.loads(line)
        try:
            if "user" in ask:
                key, secret = user(ask["user"], ask["policy"], iam)
                answer = {"key": key, "secret": secret}
            elif "calls" in ask:
                with lock:
                    answer = {"calls": [list(c) for c in calls.get(ask["calls"], {})]}
            else:
                answer = {"error": f"unknown request {sorted(ask)}"}
        except Exception as e:  # noqa: BLE001 - the test shows it
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)
    server.stop()


if __name__ == "__main__":
    main()
