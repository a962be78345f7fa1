"""The README's table of contents is its sections: every `## ` heading after
it is listed once, in order, with the anchor GitHub makes for it, and every
link to a heading of the README points at one that exists."""
import re
from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def anchor(heading):
    """GitHub's anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_contents_list_every_section_in_order():
    toc = README.split("## Contents\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- \[(.+?)\]\(#([\w-]+)\)$", toc, re.M)
    after = README.split("## Contents\n", 1)[1]
    heads = re.findall(r"^## (.+)$", after, re.M)
    assert [h for h, _ in listed] == heads
    assert all(a == anchor(h) for h, a in listed)


def test_every_link_to_a_heading_exists():
    anchors = {anchor(h) for h in re.findall(r"^#{2,4} (.+)$", README, re.M)}
    links = set(re.findall(r"\]\(#([\w-]+)\)", README))
    assert links <= anchors, sorted(links - anchors)
