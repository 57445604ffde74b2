"""Every relative link in the project's Markdown leads to a file of the repository (a lone clone has nothing
beside it), and no file of the project names a folder outside it."""

import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tracked(pattern: str) -> list[Path]:
    listed = subprocess.run(
        [shutil.which("git") or "git", "ls-files", pattern],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return [REPO / name for name in listed.splitlines()]


def test_every_relative_link_in_markdown_leads_into_the_repository() -> None:
    broken = []
    for page in _tracked("*.md"):
        for link in re.findall(r"\]\(([^)#\s]+)", page.read_text("utf-8")):
            if link.startswith(("http://", "https://", "mailto:")):
                continue
            target = (page.parent / link).resolve()
            if not target.exists() or REPO not in (target, *target.parents):
                broken.append(f"{page.relative_to(REPO)}: {link}")
    assert not broken


def test_no_file_names_the_shared_folder_beside_the_repository() -> None:
    outside = re.compile(r"\.\./shared|/work/shared|shared/data/")
    named = [
        str(path.relative_to(REPO))
        for path in _tracked("*")
        if path.suffix in (".py", ".md", ".toml", ".yml", ".yaml", ".txt", ".cfg", ".ini", "")
        and path.is_file()
        and path != Path(__file__)
        and outside.search(path.read_text("utf-8", errors="replace"))
    ]
    assert not named
