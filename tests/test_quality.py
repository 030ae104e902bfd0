"""The habits CI holds us to: ruff, mypy (strict on the package, relaxed on tests and
benchmarks) and import-linter's one-way data-flow contracts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def package_view(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The source folders arranged as the installed `deskmate.*` namespace (symlinks), so mypy
    and import-linter see module names as users import them. The editable install maps them
    with an import hook neither tool follows."""
    view = tmp_path_factory.mktemp("view")
    (view / "deskmate").mkdir()
    for folder in ("server", "context", "prompts"):
        (view / "deskmate" / folder).symlink_to(ROOT / folder)
    for folder in ("tests", "bench"):
        (view / folder).symlink_to(ROOT / folder)
    return view


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def test_ruff() -> None:
    result = run([str(BIN / "ruff"), "check", "."], ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_the_package(package_view: Path) -> None:
    result = run([str(BIN / "mypy"), "--config-file", str(ROOT / "pyproject.toml"),
                  "-p", "deskmate.server", "-p", "deskmate.context", "-p", "deskmate.prompts"],
                 package_view)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_on_tests_and_benchmarks(package_view: Path) -> None:
    result = run([str(BIN / "mypy"), "--config-file", str(ROOT / "pyproject.toml"),
                  "-p", "tests", "-p", "bench"], package_view)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_keep_the_data_flow_one_way(package_view: Path) -> None:
    result = run([str(BIN / "lint-imports"), "--config", str(ROOT / "pyproject.toml")],
                 package_view)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
