"""The tree is formatted and lint-clean (ruff, configured in pyproject.toml)."""

import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def _ruff(*args):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=PROJECT_ROOT, capture_output=True, text=True
    )


def test_ruff_check():
    result = _ruff("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = _ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr
