"""The docs match the code: every setting `todoist_sync.conf` reads is on the configuration
page, every link between the pages resolves, and the README stays a short front page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "RELIABILITY.md", ROOT / "BENCHMARKS.md"]
PAGES += sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def settings_read_by_conf() -> set[str]:
    """The names `conf.py` passes to getattr(settings, NAME, ...), read from its source, so a
    setting added there without a line in the docs fails here."""
    tree = ast.parse((ROOT / "todoist_sync" / "conf.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
        ):
            if node.args[1].value.startswith("TODOIST_"):
                names.add(node.args[1].value)
    return names


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings (lowercase, punctuation dropped, spaces to -)."""
    found = set()
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_conf_reads_settings_at_all():
    assert len(settings_read_by_conf()) > 20  # the parser above still finds them


def test_every_setting_is_on_the_configuration_page():
    page = (ROOT / "docs" / "configuration.md").read_text()
    missing = sorted(name for name in settings_read_by_conf() if f"`{name}`" not in page)
    assert not missing, f"not in docs/configuration.md: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_between_the_pages_resolves(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target):  # http(s), mailto: not ours to check here
            continue
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(target)
    assert not broken, broken


def test_the_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150
    for page in (ROOT / "docs").glob("*.md"):  # and it maps every page of the docs
        assert f"(docs/{page.name})" in "\n".join(lines), page.name
