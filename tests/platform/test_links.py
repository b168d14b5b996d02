"""Every relative link in README.md and docs/**/*.md resolves: to a file or folder of the
repository, and a `#fragment` to a heading of the file it names."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in prose(path.read_text()):
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for line in prose(path.read_text()):
        for target in LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
                continue
            name, _, fragment = target.partition("#")
            resolved = (path.parent / name).resolve() if name else path
            if not resolved.is_relative_to(root):
                continue  # beside the repository (../shared/...): not ours to check
            if not resolved.exists():
                broken.append(f"{path.relative_to(root)}: {target} (no such file)")
            elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                broken.append(f"{path.relative_to(root)}: {target} (no such heading)")
    return broken


def test_every_relative_link_resolves() -> None:
    files = markdown_files()
    assert len(files) > 1, "docs/ holds no Markdown file"
    assert [b for path in files for b in broken_links(path)] == []


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Title\n\n## Configuration\n")
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# A page\n\n[ok](../README.md#configuration) [self](#a-page) [up](../../x.md)\n"
        "[gone](missing.md) [bad anchor](../README.md#no-such-section)\n"
        "```\n[in code](ignored.md)\n```\n"
    )
    assert broken_links(page, tmp_path) == [
        "docs/page.md: missing.md (no such file)",
        "docs/page.md: ../README.md#no-such-section (no such heading)",
    ]


def test_slugs_follow_github() -> None:
    assert slug('Bookmarks ("continue watching")') == "bookmarks-continue-watching"
    assert slug("OAuth: third-party apps and a service's users") == (
        "oauth-third-party-apps-and-a-services-users"
    )
    assert slug("`bench.analytics`: every run") == "benchanalytics-every-run"
