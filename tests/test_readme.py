"""README's "Use it on your own model" example reproduces when pasted."""

import os
import re
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def _section(text, title):
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def test_use_it_on_your_own_model_example(benchmark_dir, tmp_path):
    section = _section((PROJECT_ROOT / "README.md").read_text(), "Use it on your own model")
    commands = re.search(r"```sh\n(.*?)```", section, re.S).group(1).strip().splitlines()
    expected = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    bin_dir = os.path.dirname(sys.executable)
    printed = []
    for command in commands:
        command = command.replace(".venv/bin/", bin_dir + "/").replace(
            "../shared/data", str(benchmark_dir)
        )
        result = subprocess.run(
            command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, (command, result.stderr)
        printed.append(result.stdout)
    assert "".join(printed) == expected
