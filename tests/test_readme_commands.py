"""The commands the README and docs/ tell a reader to type are real.

Every ```sh, ```bash and ```console block of README.md and docs/*.md is read
as a reader would paste it (`\\` continuations and quotes that span lines
joined, comments and blank lines skipped; in a console block only the `$ `
lines), split at `&&`, `||`, `;`, `|`, `&` and `$(...)`, and each command is
checked by its kind:

- `make TARGET... [VAR=...]`: each target is a rule of the Makefile, each
  variable one it uses;
- `loglake SUB [SUB2] --flag ...` (also `target/release/loglake`, and the
  usage lines of docs/cli.md): the subcommand exists and every `--flag` is
  in `loglake SUB --help`; placeholders (`INPUT...`, `<bucket>`) are fine;
- `cargo ... -p X` and `cargo lambda invoke X --data-file F`: X is a
  workspace package, F exists;
- any repository path a command names (scripts/, infra/, events/,
  examples/, alerts.toml, ...) exists;
- other programs (aws, terraform, curl, ...) are checked for the paths
  above only: they are listed in STATIC_ONLY, and a program in no list
  fails, so a new kind of command is looked at once.

`make` and `loglake` commands written inline in the prose (`make bench`,
`loglake search bulk --dead-letters FILE`) are checked the same way.

Then the quick path runs, offline, in a temporary directory: the README's
"Sample output" transcript (what `make demo` runs, and `make query` as the
Makefile's recipe runs it), every other self-contained `loglake` command of
a block, and `loglake summary`; each must exit 0 and print something, and
the transcript's output lines must still be what the commands print (in
order; lines may be left out at `…`; times, MB/s and the absolute path of
the input aside). The `loglake` checks need LOGLAKE_BIN (`make test` sets it).
"""
import functools
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NAMES = [p.relative_to(ROOT).as_posix() for p in DOCS]
BIN = os.environ.get("LOGLAKE_BIN")
needs_bin = pytest.mark.skipif(not BIN, reason="LOGLAKE_BIN is not set: run through `make test`, or set it to a built loglake")

# Programs whose commands are checked for the repository paths they name
# only: they need AWS, Terraform state, a server or a shell of the reader's.
STATIC_ONLY = {"aws", "terraform", "curl", "export", ".venv/bin/python", "valgrind", "callgrind_annotate", "head"}
# Invocations of the CLI as the docs write them.
LOGLAKE = {"loglake", "target/release/loglake", "./target/release/loglake"}
# Files a reader makes by following the docs, not files of the repository.
CREATED = {"infra/terraform.tfvars", "infra/backend.tf", "infra/tfplan"}
REPO_PATH = re.compile(r"(?<![\w./$-])((?:scripts|infra|events|examples|search|tests|bench|crates|docs)/[\w.@/-]*"
                       r"|alerts\.toml|buildspec\.yml|Makefile)(?![\w<>])")
# Subcommands that need nothing but the local disk.
OFFLINE = {"generate", "ingest", "alerts", "summary", "report", "schema", "formats", "completions", "man"}


def rel(p):
    return p.relative_to(ROOT).as_posix()


@dataclass
class Command:
    where: str  # file:line
    text: str  # the command as written (one simple command)
    words: list  # its words, leading VAR=value assignments removed
    usage: bool  # a usage line (`[--flag]`, `a|b`): flags are read from it, it is never run
    block: bool  # from a code block (else inline in the prose)

    @property
    def program(self):
        return self.words[0] if self.words else ""


# --- reading the blocks ---------------------------------------------------------


def scan(line):
    """(the line without its comment, the quote still open at its end)."""
    quote, out, escaped = None, [], False
    for i, c in enumerate(line):
        if escaped:
            escaped = False
        elif c == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            break
        out.append(c)
    return "".join(out).rstrip(), quote


def logical_lines(body, console):
    """(line number in the block, command) of each command a reader pastes;
    for a console block also (line number, output line) of its output."""
    commands, output, pending, start = [], [], None, 0
    for n, raw in enumerate(body.split("\n")):
        if pending is None:
            if console:
                if not raw.startswith("$ "):
                    output.append((n, raw))
                    continue
                raw = raw[2:]
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            pending, start = "", n
        code, quote = scan(pending + raw if pending else raw)
        if quote:  # a quoted string goes on to the next line
            pending = (pending + raw) + "\n"
            continue
        if code.endswith("\\"):
            pending = code[:-1] + " "
            continue
        commands.append((start, code.strip()))
        pending = None
    assert pending is None, f"a command never ends: {pending!r}"
    return commands, output


def is_usage(code):
    """A usage line: options in brackets, alternatives with `|`, groups in
    parentheses, outside quotes."""
    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "''", code)
    return bool(re.search(r"(^|\s)[\[(]|\w\|\w|\s\|\s--", unquoted))


def split_commands(code):
    """The simple commands of a line: split at &&, ||, ;, |, & outside quotes;
    each $(...) is a command of its own, replaced by a word."""
    parts, cur, quote, i = [], [], None, 0
    while i < len(code):
        c = code[i]
        if quote:
            cur.append(c)
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
            cur.append(c)
        elif code.startswith("$(", i):
            depth, j = 1, i + 2
            while j < len(code) and depth:
                depth += {"(": 1, ")": -1}.get(code[j], 0)
                j += 1
            parts += split_commands(code[i + 2:j - 1])
            cur.append("SUBSTITUTED")
            i = j
            continue
        elif c in ";|&" and not (c == "&" and (code[i - 1:i] == ">" or code[i + 1:i + 2] == ">")):
            parts.append("".join(cur))
            cur = []
            i += 2 if code[i:i + 2] in ("&&", "||") else 1
            continue
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def words_of(text, usage):
    words = text.split() if usage else shlex.split(text)
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        words.pop(0)  # VAR=value before the program
    return words


def commands_of(path, where_line, code, block):
    usage = code.split()[0] in LOGLAKE and is_usage(code)
    pieces = [code] if usage else split_commands(code)
    return [Command(f"{rel(path)}:{where_line}", p, words_of(p, usage), usage, block is not None) for p in pieces]


def blocks(text):
    """(language, first line number, body) of each fenced block."""
    for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        yield m.group(1), text[:m.start()].count("\n") + 2, m.group(2)


@functools.cache
def all_commands():
    out = []
    for path in DOCS:
        text = path.read_text()
        for lang, first, body in blocks(text):
            if lang in ("sh", "bash", "shell", "console"):
                for n, code in logical_lines(body, lang == "console")[0]:
                    out += commands_of(path, first + n, code, lang)
        # The prose, with each block's lines kept empty so line numbers stay.
        prose = re.sub(r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.M)
        for m in re.finditer(r"`((?:make|loglake|cargo lambda) [^`]+)`", prose):
            line = prose[:m.start()].count("\n") + 1
            out += commands_of(path, line, " ".join(m.group(1).split()), None)
    return out


def placeholder(word):
    """A word the reader fills in: FILE, <bucket>, ..., $VAR, a substitution."""
    return bool(re.search(r"[<>$…]|\.\.\.|SUBSTITUTED|^[A-Z][A-Z_]+$", word))


def of_kind(pred):
    return [c for c in all_commands() if c.words and pred(c)]


# --- what the repository holds ----------------------------------------------------


@functools.cache
def makefile():
    return (ROOT / "Makefile").read_text()


@functools.cache
def make_targets():
    text = makefile()
    targets = set()
    for m in re.finditer(r"^([A-Za-z0-9_.$()/ -]+?)\s*:(?!=)", text, re.M):
        targets |= {t for t in m.group(1).split() if "$" not in t}
    for m in re.finditer(r"^\.PHONY:(.*)$", text, re.M):
        targets |= set(m.group(1).split())
    return targets


@functools.cache
def make_variables():
    text = makefile()
    defined = set(re.findall(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*[?:+]?=", text, re.M))
    return defined | set(re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", text))


def make_value(name, overrides):
    """A Makefile variable's value as make would expand it in a recipe
    (simple assignments; the first one wins, as with ?=)."""
    if name in overrides:
        return overrides[name]
    if name == "CURDIR":
        return "."
    m = re.search(rf"^(?:export\s+)?{name}\s*[?:]?=\s*(.*)$", makefile(), re.M)
    assert m, f"the Makefile does not set {name}"
    return expand(m.group(1).strip(), overrides)


def expand(text, overrides):
    return re.sub(r"\$\((\w+)\)", lambda m: make_value(m.group(1), overrides), text)


def recipe(target):
    m = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", makefile(), re.M)
    assert m, f"make {target} has no recipe"
    return [l.strip() for l in m.group(1).splitlines()]


@functools.cache
def workspace_packages():
    root = tomllib.loads((ROOT / "Cargo.toml").read_text())
    names = set()
    for member in root["workspace"]["members"]:
        for d in ROOT.glob(member):
            if (d / "Cargo.toml").exists():
                names.add(tomllib.loads((d / "Cargo.toml").read_text())["package"]["name"])
    return names


@functools.cache
def help_of(path):
    """(subcommands, long options) of `loglake PATH... --help`."""
    run = subprocess.run([BIN, *path, "--help"], capture_output=True, text=True)
    assert run.returncode == 0, f"loglake {' '.join(path)} --help: {run.stderr}"
    subs, opts, section = set(), set(), None
    for line in run.stdout.splitlines():
        if re.match(r"^\S.*:$", line):
            section = line[:-1]
        elif section == "Commands" and (m := re.match(r"^  (\S+)", line)):
            subs.add(m.group(1))
        elif m := re.match(r"^\s+(?:-\w,\s+)?--([a-z0-9][a-z0-9-]*)", line):
            opts.add(m.group(1))
    return frozenset(subs), frozenset(opts | {"help"})


def loglake_path(cmd):
    """(the subcommand path, or an error)."""
    path, rest = [], cmd.words[1:]
    for w in rest:
        subs, _ = help_of(tuple(path))
        if not subs or w.startswith("-"):
            break
        if w not in subs:
            return path, f"{cmd.where}: `{cmd.text}`: no subcommand {w!r} of `{' '.join(['loglake', *path])}`"
        path.append(w)
    subs, _ = help_of(tuple(path))
    if subs and not any(w in ("--help", "-h") for w in rest):
        return path, f"{cmd.where}: `{cmd.text}`: `loglake {' '.join(path)}` needs one of {sorted(subs - {'help'})}"
    return path, None


# --- the static checks ------------------------------------------------------------


def by_file(cmds):
    return {f: [c for c in cmds if c.where.startswith(f + ":")] for f in NAMES}


def test_the_blocks_are_read():
    cmds = all_commands()
    readme = [c.text for c in cmds if c.where.startswith("README.md:") and c.block]
    assert readme[:2] == ["make demo", "make test"], readme[:3]
    assert any(c.usage for c in cmds), "the usage lines of docs/cli.md were not found"
    assert split_commands("a && b | c; d & e 2>&1") == ["a", "b", "c", "d", "e 2>&1"]
    assert split_commands("aws s3 rm s3://$(terraform output -raw raw) --recursive") == [
        "terraform output -raw raw", "aws s3 rm s3://SUBSTITUTED --recursive"]
    lines, out = logical_lines("$ a \\\n  --b 'c\nd' # e's\nout\n# f\n", console=True)
    assert scan('echo "a \\" # b" # c') == ('echo "a \\" # b"', None)
    assert [(n, re.sub(" +", " ", c)) for n, c in lines] == [(0, "a --b 'c\nd'")], lines
    assert out == [(3, "out"), (4, "# f"), (5, "")]


def test_every_command_is_of_a_known_kind():
    known = {"make", "cargo", "mkdir"} | LOGLAKE | STATIC_ONLY
    unknown = [f"{c.where}: `{c.text}`" for c in of_kind(lambda c: c.block) if c.program not in known]
    assert not unknown, "commands of no known kind (check them and add the program to STATIC_ONLY):\n" + "\n".join(unknown)
    static = sorted({f"{c.program}: {c.where}" for c in of_kind(lambda c: c.program in STATIC_ONLY)})
    print("checked statically only (paths):\n  " + "\n  ".join(static))


@pytest.mark.parametrize("doc", NAMES)
def test_make_targets_and_variables_exist(doc):
    bad = []
    for c in by_file(of_kind(lambda c: c.program == "make"))[doc]:
        for w in c.words[1:]:
            if w.startswith("-"):
                bad.append(f"{c.where}: `{c.text}`: make options are not documented commands ({w})")
            elif "=" in w:
                if w.split("=", 1)[0] not in make_variables():
                    bad.append(f"{c.where}: `{c.text}`: the Makefile has no variable {w.split('=', 1)[0]}")
            elif w not in make_targets():
                bad.append(f"{c.where}: `{c.text}`: the Makefile has no target {w!r}")
    assert not bad, "\n".join(bad)


@needs_bin
@pytest.mark.parametrize("doc", NAMES)
def test_loglake_subcommands_and_flags_exist(doc):
    bad = []
    for c in by_file(of_kind(lambda c: c.program in LOGLAKE))[doc]:
        path, error = loglake_path(c)
        if error:
            bad.append(error)
            continue
        _, opts = help_of(tuple(path))
        flags = re.findall(r"(?<![\w-])--([a-z0-9][a-z0-9-]*)", c.text) if c.usage else \
            [w[2:].split("=", 1)[0] for w in c.words if w.startswith("--")]
        bad += [f"{c.where}: `{c.text}`: `loglake {' '.join(path)}` has no --{f}" for f in flags if f not in opts]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("doc", NAMES)
def test_cargo_packages_and_data_files_exist(doc):
    bad = []
    # A data file may be one an earlier command of the page writes (`> F`).
    produced = {f for c in by_file(of_kind(lambda c: True))[doc] for f in re.findall(r">\s*([^\s;&|>]+)", c.text)}
    for c in by_file(of_kind(lambda c: c.program == "cargo"))[doc]:
        w = c.words
        named = [w[i + 1] for i in range(len(w) - 1) if w[i] in ("-p", "--package")]
        if w[1:3] == ["lambda", "invoke"]:
            named += [x for x in w[3:4] if not x.startswith("-")]
        bad += [f"{c.where}: `{c.text}`: {p} is not a workspace package" for p in named if p not in workspace_packages()]
        files = [w[i + 1] for i in range(len(w) - 1) if w[i] == "--data-file" and not placeholder(w[i + 1])]
        bad += [f"{c.where}: `{c.text}`: no file {f}" for f in files if not (ROOT / f).is_file() and f not in produced]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("doc", NAMES)
def test_the_repository_paths_commands_name_exist(doc):
    bad = []
    for c in by_file(all_commands())[doc]:
        if c.program == "mkdir":
            continue  # what it names is made
        for p in REPO_PATH.findall(c.text):
            p = p.rstrip(".")
            if p not in CREATED and not (ROOT / p).exists():
                bad.append(f"{c.where}: `{c.text}`: no {p} in the repository")
        for d in re.findall(r"-chdir=(\S+)", c.text):
            if not (ROOT / d).is_dir():
                bad.append(f"{c.where}: `{c.text}`: no directory {d}")
    assert not bad, "\n".join(bad)


# --- the quick path, run ------------------------------------------------------------


def transcript():
    """(command, [expected output lines]) of the README's sample output."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Sample output\n", 1)[1].split("\n## ", 1)[0]
    found = [b for lang, _, b in blocks(section) if lang == "console"]
    assert len(found) == 1, "the README's Sample output holds one console block"
    lines, output = logical_lines(found[0], console=True)
    steps = []
    for n, cmd in lines:
        later = [l for m, l in output if m > n and all(m < k or k <= n for k, _ in lines)]
        steps.append((cmd, later))
    return steps


def normalized(line):
    line = re.sub(r"\d+(\.\d+)? s\b", "<s> s", line.rstrip())
    line = re.sub(r"[\d.]+ MB/s", "<n> MB/s", line)
    return re.sub(r"file://\S*/", "file://…/", line)


def runnable(words):
    """The argv that runs a documented command in tmp, as a clone would."""
    if words[0] in LOGLAKE:
        return [BIN, *words[1:]], None
    if words[0] == "mkdir":
        return words, None
    if words[:2] == ["make", "query"]:
        overrides = dict(w.split("=", 1) for w in words[2:])
        steps = recipe("query")
        assert len(steps) == 1, steps
        echo = expand(steps[0], overrides)  # make prints the recipe line, then runs it
        argv = shlex.split(echo)
        assert argv[0] == ".venv/bin/python", f"make query runs {argv[0]}"
        return [sys.executable, *argv[1:]], echo
    raise AssertionError(f"not runnable here: {' '.join(words)}")


def run_in(tmp, words):
    argv, echo = runnable(words)
    run = subprocess.run(argv, cwd=tmp, capture_output=True, text=True, timeout=600)
    out = ([echo] if echo else []) + (run.stdout + run.stderr).splitlines()
    assert run.returncode == 0, f"`{' '.join(words)}` exited {run.returncode}:\n" + "\n".join(out[-20:])
    if words[0] != "mkdir":
        assert any(l.strip() for l in out), f"`{' '.join(words)}` printed nothing"
    for i, w in enumerate(words[:-1]):
        if w == "--out":
            assert (tmp / words[i + 1]).stat().st_size > 0, f"`{' '.join(words)}` wrote an empty {words[i + 1]}"
    return out


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A directory laid out as a clone: the files the commands read."""
    tmp = tmp_path_factory.mktemp("quick-path")
    for name in ("alerts.toml", "scripts", "examples", "events"):
        (tmp / name).symlink_to(ROOT / name)
    return tmp


@needs_bin
def test_the_sample_output_is_what_the_commands_print(clone):
    steps = transcript()
    assert [s[0].split()[:2] for s in steps][1:3] == [["target/release/loglake", "generate"],
                                                     ["target/release/loglake", "ingest"]]
    assert (ROOT / BIN).exists(), f"LOGLAKE_BIN={BIN} does not exist"
    for cmd, expected in steps:
        assert not is_usage(cmd), cmd
        actual = [normalized(l) for l in run_in(clone, words_of(cmd, False))]
        at = 0
        for line in expected:
            if line.strip() in ("…", ""):
                continue
            want = normalized(line)
            try:
                at = actual.index(want, at) + 1
            except ValueError:
                pytest.fail(f"`{cmd}` no longer prints, at that point, the README's line\n{line}\nit printed:\n"
                            + "\n".join(actual))
    assert (clone / "lake" / "report.html").stat().st_size > 0


@needs_bin
def test_the_other_offline_commands_run(clone):
    if not (clone / "lake").exists():
        for cmd, _ in transcript():
            run_in(clone, words_of(cmd, False))
    ran = []
    for c in of_kind(lambda c: c.block and not c.usage):
        w = c.words
        if c.program not in LOGLAKE and w[:2] != ["make", "query"]:
            continue
        if c.program in LOGLAKE and (len(w) < 2 or w[1] not in OFFLINE or "--search-endpoint" in w):
            continue
        if any(placeholder(x) for x in w[1:] if not x.startswith("SQL=")):
            continue  # placeholders and the reader's shell variables
        if c.where.startswith("README.md:") and any(c.text == s for s, _ in transcript()):
            continue  # run above
        run_in(clone, w)
        ran.append(c.text)
    # The summary is documented by its usage line only: run it on the lake.
    out = run_in(clone, ["loglake", "summary", "--lake", "lake"])
    assert any("summary" in l for l in out)
    assert list((clone / "lake" / "summary").rglob("summary.parquet"))
    assert any(t.startswith("make query") for t in ran) and any(t.startswith("loglake alerts check") for t in ran), ran
