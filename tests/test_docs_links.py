"""The documentation holds together: the README's "Documentation" list is
exactly the pages under docs/ (each once, under its own title), every page
starts with its title and a way back to the README, a page's contents list
is its sections in order, and every link in the README, ARCHITECTURE.md,
docs/ and the infra/ READMEs that points at a local file or a heading
resolves: the file exists, and the anchor is a heading of that file as
GitHub names it."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))
CHECKED = [README, ROOT / "ARCHITECTURE.md", *PAGES, *sorted((ROOT / "infra").rglob("*.md"))]


def rel(p):
    return str(p.relative_to(ROOT))


def prose(text):
    """The text with fenced code blocks blanked (their lines kept, so line
    numbers stay right)."""
    out, fence = [], None
    for line in text.split("\n"):
        m = re.match(r"^\s*(`{3,}|~{3,})", line)
        if fence is None and m:
            fence = m.group(1)
            out.append("")
        elif fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def headings(text):
    """(level, text) of every ATX heading outside code blocks."""
    return [(len(m.group(1)), m.group(2).strip().rstrip("#").strip())
            for m in re.finditer(r"^(#{1,6})[ \t]+(.+)$", prose(text), re.M)]


def slug(heading):
    """GitHub's anchor for a heading: the text as rendered (code spans and
    links by their text, emphasis marks dropped), lower case, everything but
    letters, digits, underscores, hyphens and spaces removed, each space a
    hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path):
    """Every anchor GitHub makes in a markdown file: repeated headings get
    -1, -2, ... in order."""
    seen, out = {}, set()
    for _, h in headings(path.read_text()):
        base = slug(h)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(text):
    """(line number, target) of every inline link, image and reference
    definition outside code."""
    body = re.sub(r"`[^`\n]*`", lambda m: " " * len(m.group(0)), prose(text))
    out = []
    for n, line in enumerate(body.split("\n"), 1):
        out += [(n, t) for t in re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", line)]
        out += [(n, t) for t in re.findall(r"^\s*\[[^\]]+\]:\s+(\S+)", line)]
    return out


def test_the_slug_follows_github():
    assert slug("Search (OpenSearch)") == "search-opensearch"
    assert slug("CI/CD (optional)") == "cicd-optional"
    assert slug("Your own formats (`formats.toml`)") == "your-own-formats-formatstoml"
    assert slug("Locally, with DuckDB") == "locally-with-duckdb"
    assert slug("fn_ingest settings") == "fn_ingest-settings"


@pytest.mark.parametrize("path", CHECKED, ids=rel)
def test_every_local_link_resolves(path):
    broken = []
    for n, target in links(path.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        where = f"{rel(path)}:{n}: {target}"
        if not dest.exists():
            broken.append(f"{where}: no such file")
        elif not dest.is_relative_to(ROOT):
            broken.append(f"{where}: outside the repository")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{where}: no heading #{anchor} in {rel(dest)}")
        elif anchor and dest.suffix != ".md":
            broken.append(f"{where}: an anchor into a file that is not markdown")
    assert not broken, "\n".join(broken)


def documentation_list():
    text = README.read_text()
    assert "\n## Documentation\n" in text, "README.md has no '## Documentation' section"
    section = text.split("\n## Documentation\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- \[(.+?)\]\((docs/[\w.-]+\.md)\):? *(.*)$", section, re.M)


def test_the_readme_lists_every_page_once_under_its_title():
    listed = documentation_list()
    targets = [t for _, t, _ in listed]
    assert len(targets) == len(set(targets)), f"listed twice: {sorted(t for t in targets if targets.count(t) > 1)}"
    assert sorted(targets) == sorted(rel(p) for p in PAGES), "the Documentation list and docs/*.md differ"
    for title, target, what in listed:
        first = (ROOT / target).read_text().split("\n", 1)[0]
        assert first == f"# {title}", f"{target} starts with {first!r}, the README lists it as {title!r}"
        assert len(what.split()) >= 4, f"{target}: say in a few words what the page covers"


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_each_page_has_a_title_a_way_back_and_its_contents(page):
    text = page.read_text()
    lines = text.split("\n")
    assert re.fullmatch(r"# \S.*", lines[0]), f"{rel(page)} must start with '# Title'"
    assert [h for h in headings(text) if h[0] == 1] == [(1, lines[0][2:])], f"{rel(page)}: one '# ' title only"
    assert any("](../README.md" in l for l in lines[1:6]), f"{rel(page)}: link back to the README under the title"
    sections = [h for level, h in headings(text) if level == 2]
    before = prose(text).split("\n## ", 1)[0]
    listed = re.findall(r"^- \[(.+?)\]\(#([\w-]+)\)", before, re.M)
    if len(sections) > 3:
        assert listed, f"{rel(page)} has {len(sections)} sections: list them under the title"
    if listed:
        assert [h for h, _ in listed] == sections, f"{rel(page)}: the contents list is not its sections in order"
        assert all(a == slug(h) for h, a in listed), f"{rel(page)}: a contents entry's anchor is not its heading's"
