"""docs/deploy.md ("Deploy to AWS"), read as a new user reads it: every variable it
tells you to set exists (with that default), every output it tells you to
read exists, the files it tells you to copy exist, and the make targets it
runs are defined, in that order. terraform itself cannot run here (no
provider download), so this is what can be checked offline."""
import os
import re

import hcl2
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def section():
    text = open(os.path.join(ROOT, "docs", "deploy.md"), encoding="utf-8").read()
    assert text.startswith("# Deploy to AWS\n"), "docs/deploy.md is not the 'Deploy to AWS' page"
    return text


def tf(name):
    with open(os.path.join(ROOT, "infra", name), encoding="utf-8") as f:
        return hcl2.load(f)


def unquote(v):
    # python-hcl2 keeps the quotes of strings (and of block labels).
    if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == '"':
        return v[1:-1]
    return v


def variables():
    out = {}
    for block in tf("variables.tf").get("variable", []):
        for name, body in block.items():
            out[unquote(name)] = unquote(body.get("default"))
    return out


def outputs():
    return {unquote(name) for block in tf("outputs.tf").get("output", []) for name in block}


def test_every_variable_in_the_settings_table_exists():
    vs = variables()
    table = re.search(r"^## Settings\n(.*?)(?=^## )", section(), re.S | re.M).group(1)
    named = set()
    for row in table.splitlines():
        if row.startswith("| `"):
            named.update(re.findall(r"`([a-z0-9_]+)`", row.split("|")[1]))
    assert named, "the settings table names no variables"
    missing = sorted(n for n in named if n not in vs)
    assert not missing, f"docs/deploy.md names variables infra/variables.tf does not declare: {missing}"
    # The defaults the table states are the real ones.
    for row in table.splitlines():
        cells = [c.strip() for c in row.split("|")]
        if len(cells) > 3 and re.fullmatch(r"`[a-z0-9_]+`", cells[1]) and cells[2].startswith("`"):
            name, default = cells[1].strip("`"), cells[2].strip("`")
            real = str(vs[name]).lower() if isinstance(vs[name], bool) else str(vs[name])
            assert real == default, f"{name}: docs/deploy.md says {default}, variables.tf says {real}"


def test_every_output_the_reader_is_told_to_use_exists():
    outs = outputs()
    text = section()
    used = set(re.findall(r"output -raw ([a-z0-9_]+)", text))
    used |= set(re.findall(r"^- `([a-z0-9_]+)`", text, re.M))
    used |= {n for line in re.findall(r"^- (`[a-z0-9_]+`(?:, `[a-z0-9_]+`)*):", text, re.M)
             for n in re.findall(r"`([a-z0-9_]+)`", line)}
    assert used, "the section names no outputs"
    missing = sorted(n for n in used if n not in outs)
    assert not missing, f"docs/deploy.md uses outputs infra/outputs.tf does not define: {missing}"


def test_the_files_and_targets_it_names_exist():
    text = section()
    for path in re.findall(r"`(infra/[A-Za-z0-9_.\-/]+)`", text):
        if path.endswith("terraform.tfvars") or path.endswith("backend.tf") or path.endswith("tfplan"):
            continue  # files the reader creates
        assert os.path.exists(os.path.join(ROOT, path)), f"docs/deploy.md names {path}, which does not exist"
    makefile = open(os.path.join(ROOT, "Makefile"), encoding="utf-8").read()
    steps = re.findall(r"^make (\w+)", text, re.M)
    assert steps[:3] == ["package", "plan", "deploy"], steps
    for t in steps:
        assert re.search(rf"^{t}:", makefile, re.M), f"make {t} is not a Makefile target"
    # The example settings only set variables that exist.
    example = open(os.path.join(ROOT, "infra", "terraform.tfvars.example"), encoding="utf-8").read()
    vs = variables()
    for name in re.findall(r"^#?\s*([a-z][a-z0-9_]*)\s*=", example, re.M):
        assert name in vs, f"terraform.tfvars.example sets unknown variable {name}"


@pytest.mark.parametrize("target", ["package", "plan", "deploy"])
def test_the_make_targets_do_what_the_page_says(target):
    makefile = open(os.path.join(ROOT, "Makefile"), encoding="utf-8").read()
    body = re.search(rf"^{target}:.*?\n((?:\t.*\n)+)", makefile, re.M).group(1)
    expect = {
        "package": ["lambda build", "--release", "--arm64", "--output-format zip"],
        "plan": ["init", "plan", "-out=tfplan"],
        "deploy": ["apply", "tfplan"],
    }[target]
    for word in expect:
        assert word in body, f"make {target} does not run {word!r}"
