#!/usr/bin/env python3
"""An unused-dependency check for `make lint`: every dependency a crate of
the workspace declares (normal and dev) must be named in its code, as
`name::`, `use name`, `extern crate`, or a derive/attribute path. A crate
that is only there for its features or a build script can be listed in
ALLOWED with the reason. Exits non-zero naming each unused one.

The same question cargo-udeps and cargo-machete answer, without installing
either: the names are read as text, which is enough for a workspace whose
crates import what they use by name."""
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (crate, dependency): why it is declared though no code names it.
ALLOWED: dict[tuple[str, str], str] = {}


def used(crate_dir: Path, dep: str) -> bool:
    name = dep.replace("-", "_")
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    for sub in ("src", "tests", "examples", "benches"):
        for f in (crate_dir / sub).rglob("*.rs"):
            if pattern.search(f.read_text()):
                return True
    return False


def main() -> int:
    bad = []
    for manifest in sorted(ROOT.glob("crates/*/Cargo.toml")):
        crate_dir = manifest.parent
        m = tomllib.loads(manifest.read_text())
        for section in ("dependencies", "dev-dependencies"):
            for dep, spec in m.get(section, {}).items():
                real = spec.get("package", dep) if isinstance(spec, dict) else dep
                if (crate_dir.name, dep) in ALLOWED:
                    continue
                if not used(crate_dir, real):
                    bad.append(f"crates/{crate_dir.name}: [{section}] {dep} is named nowhere in its code")
    for b in bad:
        print(b, file=sys.stderr)
    if bad:
        print("unused-deps: remove them (or list them in scripts/unused-deps.py's ALLOWED with why)", file=sys.stderr)
        return 1
    print(f"unused-deps: every dependency of {len(list(ROOT.glob('crates/*/Cargo.toml')))} crates is used")
    return 0


if __name__ == "__main__":
    sys.exit(main())
