"""The floor plan: the core imports no adapter and no framework, adapters never each other.

``make lint`` runs import-linter with the contracts in ``pyproject.toml``; these tests show
that those contracts hold on the tree and fail on a wrong import, and that the core really
loads without Rasa.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clinic.paths import PROJECT_ROOT

PACKAGES = ("clinic", "actions", "clinic_nlu", "channels", "serving", "webapp", "scripts")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy_of_the_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            PROJECT_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint_imports(_copy_of_the_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, wrong_import, contract",
    [
        ("clinic/knowledge.py", "import actions.common", "Dependencies point inward"),
        ("webapp/staff.py", "import actions.common", "Dependencies point inward"),
        ("channels/twilio.py", "import webapp.staff", "Dependencies point inward"),
        ("clinic/answering.py", "import rasa_sdk", "The core imports no framework"),
        ("actions/booking_actions.py", "import actions.answer_actions", "never import each"),
        ("clinic/yaml_source.py", "import clinic.knowledge", "No import cycles"),
    ],
)
def test_a_wrong_import_breaks_a_contract(
    tmp_path: Path, module: str, wrong_import: str, contract: str
) -> None:
    root = _copy_of_the_tree(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n{wrong_import}  # noqa\n")
    result = _lint_imports(root)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken), result.stdout


def test_the_core_loads_without_rasa_or_a_web_framework() -> None:
    modules = [
        "clinic.check",
        "clinic.answering",
        "clinic.red_flags",
        "clinic.frontdesk",
        "clinic.frontdesk.__main__",
    ]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "loaded = {m.split('.')[0] for m in sys.modules}\n"
        + "print(sorted(loaded & {'rasa', 'rasa_sdk', 'sanic', 'aiohttp', 'spacy', 'tensorflow'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
