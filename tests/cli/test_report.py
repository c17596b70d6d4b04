"""The names of F-beta scores in the tool's lines: the beta as the user wrote it."""

import numpy as np
import pytest

from jaxthresh.cli.report import score_name
from tests.cli.test_reliability import succeeded
from tests.conftest import random_problem


@pytest.mark.parametrize(
    "average, beta, name",
    [
        ("micro", 1.0, "micro-F1"),
        ("micro", np.float32(1), "micro-F1"),
        ("macro", 0.5, "macro-F0.5"),
        ("micro", 2, "micro-F2"),
        ("micro", np.float32(0.3), "micro-F0.3"),  # not F0.300000012
        ("micro", np.float32(1 / 3), "micro-F0.333333"),
        ("micro", np.float32(1e-4), "micro-F0.0001"),
        ("micro", 10000.0, "micro-F10000"),
        ("micro", np.float32(1e-40), "micro-F1e-40"),  # a subnormal: not F9.99995e-41
    ],
)
def test_score_name(average, beta, name):
    assert score_name(average, beta) == name


@pytest.mark.parametrize("beta, name", [("0.3", "micro-F0.3"), ("2", "micro-F2")])
def test_fit_names_its_score_with_beta(tmp_path, monkeypatch, beta, name):
    scores, labels = random_problem(41, rows=40, classes=4)
    monkeypatch.chdir(tmp_path)
    np.save("s.npy", scores)
    np.save("l.npy", labels)
    arguments = ["--scores=s.npy", "--labels=l.npy", "--method=exact", "--output=o.json"]
    ran = succeeded(["fit", *arguments, f"--beta={beta}"])
    assert ran.stdout.startswith(f"exact: {name} "), ran.stdout
