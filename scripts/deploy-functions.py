#!/usr/bin/env python3
"""Release what `terraform apply` published: a CodeDeploy deployment per
function whose `live` alias is behind its latest published version.

Every function publishes a version on each change and every trigger invokes
its `live` alias (infra/modules/lambda), which Terraform creates and then
leaves alone. This script moves the aliases, through CodeDeploy, for each
entry of the Terraform output `deployments` (infra/modules/codedeploy):

1. the alias's version (`aws lambda get-alias`) and the latest published
   one (`aws lambda list-versions-by-function`); equal: nothing to do;
2. the AppSpec: the alias from the one to the other, and the pre-traffic
   hook the entry names (fn-canary, for fn-ingest only) under Hooks;
3. `aws deploy create-deployment` of the entry's application and group with
   that AppSpec as the revision; every deployment is started first, then
4. each is followed (`aws deploy get-deployment`) until it succeeds, fails
   or is stopped; CodeDeploy rolls a failed or stopped one back (the alias
   returns to its version) as the deployment group says.

It exits 1 when a deployment did not succeed, naming the deployment, its
status and why, so that `make deploy` and the pipeline's Release action
fail. The traffic shift is the group's deployment configuration
(deployment_config: a canary, linear steps, or all at once).

    scripts/deploy-functions.py                        terraform -chdir=infra output -json deployments
    scripts/deploy-functions.py --deployments FILE     the same, written to FILE (the pipeline)
    scripts/deploy-functions.py --dry-run              print each AppSpec, deploy nothing
    scripts/deploy-functions.py --function NAME        only that function (repeatable)

Only the AWS CLI (v2) and python3 are needed; the credentials are the
caller's (`make deploy`) or the Release action's role.
"""

import argparse
import json
import os
import subprocess
import sys
import time

# CodeDeploy's statuses of a deployment that has ended.
DONE = {"Succeeded", "Failed", "Stopped"}


def appspec(entry, current, target):
    """The AppSpec of one Lambda deployment: the entry's alias from version
    `current` to `target`, with its pre-traffic hook (BeforeAllowTraffic)
    when the entry names one."""
    name = entry["function_name"]
    spec = {
        "version": 0.0,
        "Resources": [
            {
                name: {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {"Name": name, "Alias": entry["alias"], "CurrentVersion": str(current), "TargetVersion": str(target)},
                }
            }
        ],
    }
    if entry.get("hook"):
        spec["Hooks"] = [{"BeforeAllowTraffic": entry["hook"]}]
    return spec


def revision(spec):
    """create-deployment's --revision for an AppSpec given inline."""
    return {"revisionType": "AppSpecContent", "appSpecContent": {"content": json.dumps(spec, separators=(",", ":"))}}


class Aws:
    """The AWS CLI, JSON in and out; `run` is replaced in the tests."""

    def __init__(self, run=None):
        self.run = run or self.cli

    @staticmethod
    def cli(args):
        done = subprocess.run(["aws", *args, "--output", "json"], capture_output=True, text=True)
        if done.returncode != 0:
            raise AwsError("aws %s: %s" % (" ".join(args[:2]), done.stderr.strip() or "exit %d" % done.returncode))
        return json.loads(done.stdout) if done.stdout.strip() else {}

    def __call__(self, region, *args):
        return self.run([*args, "--region", region] if region else list(args))


class AwsError(Exception):
    pass


def versions(aws, entry):
    """(the alias's version, its routing weights, the latest published version)."""
    fn, region = entry["function_name"], entry.get("region")
    alias = aws(region, "lambda", "get-alias", "--function-name", fn, "--name", entry["alias"])
    listed = aws(region, "lambda", "list-versions-by-function", "--function-name", fn)
    published = [int(v["Version"]) for v in listed.get("Versions", []) if v.get("Version", "").isdigit()]
    if not published:
        raise AwsError("%s has no published version: was it applied with publish = true?" % fn)
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return int(alias["FunctionVersion"]), weights, max(published)


def load_deployments(args):
    if args.deployments:
        with open(args.deployments) as f:
            data = json.load(f)
    else:
        tf = args.terraform
        done = subprocess.run([tf, "-chdir=%s" % args.infra, "output", "-json", "deployments"], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit("deploy-functions: %s output deployments: %s" % (tf, done.stderr.strip()))
        data = json.loads(done.stdout)
    # `terraform output -json` prints the value; `terraform output -json`
    # of every output wraps it in {"value": ...}.
    if isinstance(data, dict) and "value" in data:
        data = data["value"]
    if not isinstance(data, list) or not all(isinstance(d, dict) and {"function_name", "alias", "application", "deployment_group"} <= set(d) for d in data):
        sys.exit("deploy-functions: the deployments are a list of {region, application, deployment_group, function_name, alias, hook}")
    if args.function:
        unknown = set(args.function) - {d["function_name"] for d in data}
        if unknown:
            sys.exit("deploy-functions: no deployment for %s" % ", ".join(sorted(unknown)))
        data = [d for d in data if d["function_name"] in args.function]
    return data


def plan(aws, deployments, out):
    """The deployments to make: (entry, current, target) of every function
    whose alias is behind. A function whose alias is mid-shift (weights on
    a second version: a deployment in progress, or one interrupted) is an
    error: CodeDeploy would refuse a second one."""
    todo, errors = [], []
    for d in deployments:
        where = "%s (%s)" % (d["function_name"], d.get("region") or "default region")
        try:
            current, weights, latest = versions(aws, d)
        except AwsError as e:
            errors.append("%s: %s" % (where, e))
            continue
        if weights:
            errors.append("%s: %s is shifting between version %d and %s already (a deployment in progress?); finish or stop it first"
                          % (where, d["alias"], current, ", ".join(sorted(weights))))
        elif current >= latest:
            print("%s: %s is at version %d, the latest: nothing to deploy" % (where, d["alias"], current), file=out)
        else:
            todo.append((d, current, latest))
    return todo, errors


def follow(aws, started, out, poll_s, timeout_s, sleep=time.sleep, clock=time.monotonic):
    """Poll every started deployment until it has ended; the failed ones,
    each as a message naming the deployment, its status and why."""
    waiting = dict(started)  # deployment id -> (entry, current, target)
    status = {i: None for i in waiting}
    failed = []
    deadline = clock() + timeout_s
    while waiting:
        for dep_id, (d, current, target) in list(waiting.items()):
            try:
                info = aws(d.get("region"), "deploy", "get-deployment", "--deployment-id", dep_id).get("deploymentInfo", {})
            except AwsError as e:
                # A failed poll is asked again next time; the deadline bounds it.
                print("%s: deployment %s: %s" % (d["function_name"], dep_id, e), file=out)
                continue
            now = info.get("status", "Unknown")
            if now != status[dep_id]:
                print("%s: deployment %s (%s %d -> %d): %s" % (d["function_name"], dep_id, d["alias"], current, target, now), file=out)
                status[dep_id] = now
            if now in DONE:
                del waiting[dep_id]
                if now != "Succeeded":
                    failed.append(failure(d, dep_id, info))
        if not waiting:
            break
        if clock() > deadline:
            for dep_id, (d, _, _) in waiting.items():
                failed.append("%s: deployment %s still %s after %d s: see the CodeDeploy console (aws deploy stop-deployment --deployment-id %s --auto-rollback-enabled to roll it back)"
                              % (d["function_name"], dep_id, status[dep_id], timeout_s, dep_id))
            break
        sleep(poll_s)
    return failed


def failure(d, dep_id, info):
    error = info.get("errorInformation") or {}
    rollback = info.get("rollbackInfo") or {}
    why = [error.get("code"), error.get("message")]
    text = "%s: deployment %s %s" % (d["function_name"], dep_id, info.get("status"))
    if any(why):
        text += ": " + ": ".join(w for w in why if w)
    if rollback.get("rollbackDeploymentId") or rollback.get("rollbackMessage"):
        text += " (rolled back: %s %s)" % (rollback.get("rollbackDeploymentId") or "", rollback.get("rollbackMessage") or "")
    return text.rstrip()


def main(argv=None, run=None, out=sys.stdout, sleep=time.sleep, clock=time.monotonic):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deployments", metavar="FILE", help="the Terraform output `deployments` as JSON (default: read it with terraform)")
    ap.add_argument("--terraform", default=os.environ.get("TERRAFORM", "terraform"), help="the terraform binary (default terraform, or $TERRAFORM)")
    ap.add_argument("--infra", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "infra"), help="the Terraform root (default infra/)")
    ap.add_argument("--function", action="append", metavar="NAME", help="deploy only this function (repeatable)")
    ap.add_argument("--dry-run", action="store_true", help="print what would be deployed and each AppSpec; start nothing")
    ap.add_argument("--poll", type=float, default=15, metavar="S", help="seconds between get-deployment calls (default 15)")
    ap.add_argument("--timeout", type=float, default=140 * 60, metavar="S",
                    help="give up following after this long (default 140 minutes: LambdaLinear10PercentEvery10Minutes takes 100)")
    args = ap.parse_args(argv)
    aws = Aws(run)

    deployments = load_deployments(args)
    todo, errors = plan(aws, deployments, out)
    for e in errors:
        print("deploy-functions: " + e, file=out)
    if args.dry_run:
        for d, current, target in todo:
            print("%s: would deploy %s %d -> %d with %s/%s, AppSpec:" % (d["function_name"], d["alias"], current, target, d["application"], d["deployment_group"]), file=out)
            print(json.dumps(appspec(d, current, target), indent=2), file=out)
        return 1 if errors else 0

    started = {}
    for d, current, target in todo:
        try:
            created = aws(d.get("region"), "deploy", "create-deployment",
                          "--application-name", d["application"], "--deployment-group-name", d["deployment_group"],
                          "--description", "loglake: %s %s %d -> %d" % (d["function_name"], d["alias"], current, target),
                          "--revision", json.dumps(revision(appspec(d, current, target))))
        except AwsError as e:
            errors.append("%s: %s" % (d["function_name"], e))
            continue
        print("%s: started deployment %s of %s/%s: %s %d -> %d%s" % (
            d["function_name"], created["deploymentId"], d["application"], d["deployment_group"], d["alias"], current, target,
            " (pre-traffic hook %s)" % d["hook"] if d.get("hook") else ""), file=out)
        started[created["deploymentId"]] = (d, current, target)

    failed = follow(aws, started, out, args.poll, args.timeout, sleep=sleep, clock=clock)
    for f in errors + failed:
        print("deploy-functions: FAILED " + f, file=out)
    if errors or failed:
        return 1
    print("deploy-functions: %d deployment(s) succeeded" % len(started), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
