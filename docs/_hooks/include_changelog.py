"""MkDocs hook: the changelog page shows the repository's CHANGELOG.md, or says there is none yet.

``pymdownx.snippets`` would include the file too, but with ``check_paths`` (which keeps every other include honest)
a missing file fails the build, and without it a missing file is an empty page that says nothing.
"""

from __future__ import annotations

from pathlib import Path

CHANGELOG = Path(__file__).resolve().parents[2] / "CHANGELOG.md"


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != "changelog.md":
        return markdown
    if not CHANGELOG.is_file():
        return markdown + "\nThere is no `CHANGELOG.md` in this version of the repository yet.\n"
    text = CHANGELOG.read_text(encoding="utf-8")
    if text.lstrip().startswith("# "):  # the page has its own title
        text = text.lstrip().split("\n", 1)[1] if "\n" in text.lstrip() else ""
    return markdown + "\n" + text
