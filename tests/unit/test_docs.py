"""The README and `make help` stay true to the tree."""

from __future__ import annotations

import re
import subprocess

from clinic.paths import PROJECT_ROOT

PACKAGES = ("clinic", "actions", "clinic_nlu", "channels", "webapp")


def _tracked_files() -> list[str]:
    result = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def _layout_entries() -> set[str]:
    """The paths the README's Layout block names, with each indented entry under its parent."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = readme.split("## Layout\n", 1)[1].split("```\n", 2)[1]
    entries: set[str] = set()
    parents: dict[int, str] = {}
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        if indent > 4 or not line.strip():
            continue  # a description carried over to the next line
        name = line.split()[0]
        path = parents.get(indent - 2, "") + name if indent else name
        entries.add(path)
        if name.endswith("/"):
            parents[indent] = path
    return entries


def test_every_path_in_the_layout_exists() -> None:
    tracked = _tracked_files()
    for entry in _layout_entries():
        if entry.endswith("/"):
            assert any(f.startswith(entry) for f in tracked), f"README lists {entry}: not in git"
        else:
            assert entry in tracked, f"README lists {entry}: not in git"


def test_every_module_and_directory_is_in_the_layout() -> None:
    entries = _layout_entries()
    tracked = _tracked_files()
    modules = [
        f
        for f in tracked
        if f.split("/")[0] in PACKAGES and f.endswith(".py") and not f.endswith("/__init__.py")
    ]
    missing = [m for m in modules if m not in entries]
    assert not missing, f"modules missing from the README layout: {missing}"
    directories = {f.rsplit("/", 1)[0] + "/" for f in tracked if "/" in f}
    # tests/ itself is described by its subdirectories, each listed.
    top_level = {d.split("/")[0] + "/" for d in directories} - {"tests/"}
    test_dirs = {d for d in directories if d.startswith("tests/") and d.count("/") == 2}
    missing_dirs = sorted(d for d in top_level | test_dirs if d not in entries)
    assert not missing_dirs, f"directories missing from the README layout: {missing_dirs}"


def test_make_help_lists_every_target() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*?)(?<!\\)\n", makefile, re.MULTILINE | re.DOTALL)
    assert phony
    targets = phony.group(1).replace("\\\n", " ").split()
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    listed = {line.split()[1] for line in result.stdout.splitlines() if line.strip()}
    assert sorted(set(targets) - listed) == []
