#!/usr/bin/env python3
"""Write the reference part of each Terraform module's README from its HCL,
as terraform-docs would (no terraform-docs binary, no network: python-hcl2,
from the repository's .venv).

    .venv/bin/python scripts/terraform-docs.py          rewrite what is stale
    .venv/bin/python scripts/terraform-docs.py --check  exit 1 if any is stale

For every module under infra/modules (every directory holding *.tf, nested
ones such as storage/bucket included), README.md gets, between the markers
BEGIN and END below:

- Requirements: required_version and required_providers (versions.tf);
- Inputs: every variable, with its description, type, default and whether
  it is required (no default);
- Outputs: every output, with its description.

Everything outside the markers is hand-written and kept as it is: the
module's intro above them, anything after. A README without the markers
gets them appended at its end; a module without a README gets one with just
a title, and a note that it needs an intro (tests/test_infra_docs.py fails
until it has one). infra/README.md (the root module) is rewritten only if
someone adds the markers to it.

tests/test_infra_docs.py runs --check, so the tables cannot drift from the
HCL.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import hcl2
except ImportError:  # pragma: no cover - a usage error, not a code path
    sys.exit("terraform-docs.py needs python-hcl2: run it with .venv/bin/python (make .venv first)")

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
MODULES = INFRA / "modules"
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"


# --- reading the HCL ----------------------------------------------------------


def label(v: str) -> str:
    """A block label as python-hcl2 gives it ('"name"') without its quotes."""
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v


def hcl_text(v: str) -> str:
    """An HCL string literal's value: quotes removed, escapes decoded
    (\\" \\\\ \\n \\t, and the template escapes $${ and %%{)."""
    if not (len(v) >= 2 and v[0] == v[-1] == '"'):
        return v
    out, i, s = [], 0, v[1:-1]
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append({"n": "\n", "t": "\t", "r": "\r"}.get(s[i + 1], s[i + 1]))
            i += 2
        elif s.startswith("$${", i) or s.startswith("%%{", i):
            out.append(s[i + 1 : i + 3])
            i += 3
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expression(v) -> str:
    """A value as HCL text: literals as written, '${x}' expressions as x."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        if v.startswith("${") and v.endswith("}"):
            return v[2:-1]
        return v  # a quoted literal keeps its quotes and escapes
    if isinstance(v, list):
        return "[" + ", ".join(expression(x) for x in v) + "]"
    if isinstance(v, dict):
        items = [(label(k), x) for k, x in v.items() if not k.startswith("__")]
        if not items:
            return "{}"
        return "{ " + ", ".join(f"{k} = {expression(x)}" for k, x in items) + " }"
    return str(v)


def module_doc(path: Path) -> dict:
    """Variables, outputs and requirements of the module in one directory."""
    doc = {"variables": {}, "outputs": {}, "required_version": None, "providers": {}}
    for f in sorted(path.glob("*.tf")):
        with f.open() as fh:
            parsed = hcl2.load(fh)
        for block in parsed.get("variable", []):
            for name, body in block.items():
                doc["variables"][label(name)] = body
        for block in parsed.get("output", []):
            for name, body in block.items():
                doc["outputs"][label(name)] = body
        for tf in parsed.get("terraform", []):
            if "required_version" in tf:
                doc["required_version"] = hcl_text(tf["required_version"])
            for providers in tf.get("required_providers", []):
                for name, req in providers.items():
                    if name.startswith("__"):
                        continue
                    if isinstance(req, dict):
                        doc["providers"][name] = {k: hcl_text(req[k]) for k in ("source", "version") if k in req}
                    else:  # the legacy form: name = "version"
                        doc["providers"][name] = {"version": hcl_text(req)}
    return doc


# --- writing the tables -------------------------------------------------------


def cell(text: str) -> str:
    """Text for a Markdown table cell: one line, | escaped everywhere, and
    <, > and * escaped outside `code spans` (<prefix> is not an HTML tag)."""
    parts = text.replace("\r", "").replace("\n", "<br>").split("`")
    for i, p in enumerate(parts):
        if i % 2 == 0:
            p = p.replace("<br>", "\0").replace("<", "&lt;").replace(">", "&gt;").replace("\0", "<br>")
            p = p.replace("*", "\\*")
        parts[i] = p.replace("|", "\\|")
    return "`".join(parts)


def code(text: str) -> str:
    """An inline code span that survives any backticks inside it."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def section(doc: dict) -> str:
    out = [BEGIN, "## Requirements", "", "| Name | Source | Version |", "|------|--------|---------|"]
    out.append(f"| terraform | | {code(doc['required_version'] or 'any')} |")
    for name, req in sorted(doc["providers"].items()):
        out.append(f"| {name} | {req.get('source', '')} | {code(req.get('version', 'any'))} |")
    out += ["", "## Inputs", ""]
    if doc["variables"]:
        out += ["| Name | Description | Type | Default | Required |", "|------|-------------|------|---------|:--------:|"]
        for name, v in sorted(doc["variables"].items()):
            description = cell(hcl_text(v.get("description", '""')))
            vtype = code(expression(v.get("type", "any")))
            required = "default" not in v
            default = "n/a" if required else code(expression(v["default"]))
            out.append(f"| `{name}` | {description} | {vtype} | {default} | {'yes' if required else 'no'} |")
    else:
        out.append("No inputs.")
    out += ["", "## Outputs", ""]
    if doc["outputs"]:
        out += ["| Name | Description |", "|------|-------------|"]
        for name, o in sorted(doc["outputs"].items()):
            description = cell(hcl_text(o.get("description", '""')))
            out.append(f"| `{name}` | {description} |")
    else:
        out.append("No outputs.")
    out.append(END)
    return "\n".join(out) + "\n"


# --- the READMEs ----------------------------------------------------------------


def module_dirs() -> list[Path]:
    """Every module under infra/modules: each directory holding .tf files."""
    return sorted({p.parent for p in MODULES.rglob("*.tf")})


def targets() -> list[Path]:
    """The module directories whose README this script keeps: every module,
    and the root (infra/) only when its README already has the markers."""
    dirs = module_dirs()
    root_readme = INFRA / "README.md"
    if root_readme.exists() and BEGIN in root_readme.read_text():
        dirs = [INFRA] + dirs
    return dirs


def rendered(module: Path) -> tuple[Path, str, str]:
    """(README path, its current text, the text it should have)."""
    readme = module / "README.md"
    current = readme.read_text() if readme.exists() else ""
    generated = section(module_doc(module))
    if not current:
        name = module.relative_to(MODULES).as_posix()
        return readme, current, f"# {name}\n\n" + generated
    if BEGIN in current and END in current and current.index(BEGIN) < current.index(END):
        start, end = current.index(BEGIN), current.index(END) + len(END)
        after = current[end:]
        after = after[1:] if after.startswith("\n") else after
        return readme, current, current[:start] + generated + after
    return readme, current, current.rstrip("\n") + "\n\n" + generated


def stale() -> list[tuple[Path, str]]:
    """README paths that differ from what this script writes, with the new text."""
    out = []
    for module in targets():
        readme, current, wanted = rendered(module)
        if current != wanted:
            out.append((readme, wanted))
    return out


def main(argv: list[str]) -> int:
    if set(argv) - {"--check"}:
        print(__doc__, file=sys.stderr)
        return 2
    changed = stale()
    if "--check" in argv:
        for readme, _ in changed:
            print(f"terraform-docs: {readme.relative_to(ROOT)} is stale", file=sys.stderr)
        if changed:
            print("terraform-docs: run .venv/bin/python scripts/terraform-docs.py", file=sys.stderr)
            return 1
        print(f"terraform-docs: {len(targets())} module READMEs are current")
        return 0
    for readme, text in changed:
        new = not readme.exists()
        readme.write_text(text)
        print(f"terraform-docs: wrote {readme.relative_to(ROOT)}")
        if new:
            print(f"terraform-docs: {readme.relative_to(ROOT)} is new: write an intro above {BEGIN}", file=sys.stderr)
    if not changed:
        print(f"terraform-docs: {len(targets())} module READMEs are current")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
