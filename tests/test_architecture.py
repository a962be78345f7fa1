"""The rules of ARCHITECTURE.md, checked against the code: which crate may
depend on which, core's layers, no import cycle between files, and the size
limits that keep each file one thing."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CRATES = ROOT / "crates"

# Dependencies a crate must never have, in any section ([dependencies],
# [dev-dependencies], [build-dependencies]) unless noted.
SDK = re.compile(r"^(aws-sdk-|aws-config$|aws-smithy|aws-sigv4$|aws-credential-types$)")
NETWORK = re.compile(r"^(hyper|hyper-util|hyper-rustls|rustls|http-body-util|reqwest)$")
RUNTIME = re.compile(r"^(lambda_runtime|tokio)$")
FUNCTION = re.compile(r"^fn-")


def manifest(crate):
    with open(CRATES / crate / "Cargo.toml", "rb") as f:
        return tomllib.load(f)


def deps(crate, sections=("dependencies",)):
    m = manifest(crate)
    out = set()
    for s in sections:
        out |= set(m.get(s, {}))
    return out


ALL_SECTIONS = ("dependencies", "dev-dependencies", "build-dependencies")


def crates():
    return sorted(p.parent.name for p in CRATES.glob("*/Cargo.toml"))


def test_core_has_no_aws_lambda_runtime_or_network_dependency():
    bad = {
        d
        for d in deps("core")
        if SDK.match(d) or NETWORK.match(d) or RUNTIME.match(d) or d.startswith("loglake-") or d == "aws_lambda_events"
    }
    assert not bad, f"loglake-core must stay pure: {sorted(bad)}"


def test_handlers_decide_without_the_sdk():
    bad = {d for d in deps("handlers") if SDK.match(d) or NETWORK.match(d) or d in {"lambda_runtime", "loglake-aws"}}
    assert not bad, f"loglake-handlers works over effect traits, not SDK clients: {sorted(bad)}"


def test_aws_implements_effects_and_decides_nothing_above_it():
    bad = {d for d in deps("aws", ALL_SECTIONS) if FUNCTION.match(d) or d in {"loglake-cli", "loglake-testkit"}}
    assert not bad, sorted(bad)


@pytest.mark.parametrize("crate", [c for c in crates() if FUNCTION.match(c) or c == "cli"])
def test_no_binary_crate_depends_on_a_function_crate(crate):
    bad = {d for d in deps(crate, ALL_SECTIONS) if FUNCTION.match(d)}
    assert not bad, f"{crate} depends on {sorted(bad)}: share code through loglake-handlers or loglake-testkit"


@pytest.mark.parametrize("crate", [c for c in crates() if c != "testkit"])
def test_testkit_is_only_a_dev_dependency(crate):
    assert "loglake-testkit" not in deps(crate, ("dependencies", "build-dependencies"))


def rust_files(crate):
    return sorted((CRATES / crate / "src").rglob("*.rs"))


def module_of(crate, path):
    """`src/ingest/format/mod.rs` -> ("ingest", "format")."""
    rel = path.relative_to(CRATES / crate / "src").with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


USE = re.compile(r"\b(crate|super)((?:::\w+)+)")


def references(crate, path, text):
    """The module paths a file names with `crate::` or `super::`."""
    here = module_of(crate, path)
    for m in USE.finditer(strip_tests(text)):
        root, rest = m.group(1), [p for p in m.group(2).split("::") if p]
        # `super` is the parent of the module the file is (a `mod.rs` is
        # its folder's module).
        yield tuple(rest) if root == "crate" else here[:-1] + tuple(rest)


def strip_tests(text):
    """Source without its `#[cfg(test)]` module and comments."""
    i = text.find("#[cfg(test)]")
    if i >= 0:
        text = text[:i]
    return re.sub(r"//[^\n]*", "", text)


def resolve(crate, modpath, files):
    """The longest prefix of `modpath` that is a file of the crate."""
    for n in range(len(modpath), 0, -1):
        if modpath[:n] in files:
            return modpath[:n]
    return None


def file_graph(crate):
    files = {module_of(crate, p): p for p in rust_files(crate)}
    graph = {m: set() for m in files}
    for m, p in files.items():
        for ref in references(crate, p, p.read_text()):
            target = resolve(crate, ref, files)
            # A module names its own children (`pub mod x; pub use x::Y`):
            # that is the parent exposing its parts, not a dependency.
            if target and target != m and target[: len(m)] != m:
                graph[m].add(target)
    return graph


def cycles(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted("::".join(c) for c in comp))

    for v in graph:
        if v not in index:
            strong(v)
    return out


@pytest.mark.parametrize("crate", crates())
def test_no_import_cycle_between_files(crate):
    assert cycles(file_graph(crate)) == []


def test_super_resolves_from_files_and_folders():
    core = CRATES / "core" / "src"
    refs = list(references("core", core / "ingest/format/alb.rs", "use super::clf::x;"))
    assert refs == [("ingest", "format", "clf", "x")]
    refs = list(references("core", core / "ingest/format/mod.rs", "use super::input::x;"))
    assert refs == [("ingest", "input", "x")]


def test_the_cycle_finder_finds_cycles():
    g = {("a",): {("b",)}, ("b",): {("a",)}, ("c",): {("a",)}}
    assert cycles(g) == [["a", "b"]]


# Core's layers: a module may import only from the layers above it.
CORE_LAYERS = {
    "record": 0, "time": 0, "schema": 0, "store": 0, "error": 0, "hash": 0,
    "redact": 1,
    "ingest": 2,
    "metrics": 3, "sinks": 3, "triggers": 3,
    "summary": 4,
}


def test_core_layers_import_only_upwards():
    graph = file_graph("core")
    wrong = []
    for m, targets in graph.items():
        if not m:
            continue
        for t in targets:
            a, b = CORE_LAYERS[m[0]], CORE_LAYERS[t[0]]
            # Same layer: only inside the same top-level module.
            if b > a or (b == a and a > 0 and t[0] != m[0]):
                wrong.append(f"{'::'.join(m)} -> {'::'.join(t)}")
    assert not wrong, wrong


def is_test_file(p):
    return "tests" in p.parts or p.name == "tests.rs" or "examples" in p.parts


@pytest.mark.parametrize("crate", crates())
def test_no_source_file_over_700_lines(crate):
    big = [
        f"{p.relative_to(ROOT)} ({n})"
        for p in rust_files(crate)
        if not is_test_file(p) and (n := len(p.read_text().splitlines())) > 700
    ]
    assert not big, big


@pytest.mark.parametrize("crate", [c for c in crates() if FUNCTION.match(c)])
def test_function_crates_are_settings_and_wiring(crate):
    lib = CRATES / crate / "src" / "lib.rs"
    n = len(lib.read_text().splitlines())
    assert n < 250, f"{lib.relative_to(ROOT)} has {n} lines: decisions belong in loglake-handlers"


def test_every_file_says_what_it_owns():
    missing = [
        str(p.relative_to(ROOT))
        for c in crates()
        for p in rust_files(c)
        if not p.read_text().lstrip().startswith("//!")
    ]
    assert not missing, missing
