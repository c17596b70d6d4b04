"""Shared fixtures: the benchmark data folder and small random problems.

Speed: every distinct (static configuration, array shapes) pair compiles once per test
process, so tests share a few shapes. Property tests draw problems of varying size and pad
them to one fixed shape with rows of weight 0 (``padded_problem``), so that hypothesis
examples reuse one compiled fit instead of compiling one per example.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]


def data_dir() -> pathlib.Path:
    """$JAXTHRESH_DATA if set, else ../shared/data beside the project."""
    return pathlib.Path(os.environ.get("JAXTHRESH_DATA", PROJECT_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def benchmark_dir() -> pathlib.Path:
    folder = data_dir()
    if not (folder / "dcase2017.npz").is_file():
        pytest.fail(f"benchmark data not found in {folder}; set JAXTHRESH_DATA")
    return folder


def random_problem(seed: int, rows: int = 60, classes: int = 5, ties: bool = False):
    """Scores correlated with labels, float32[rows, classes], and bool labels."""
    rng = np.random.default_rng(seed)
    labels = rng.random((rows, classes)) < rng.uniform(0.1, 0.5, classes)
    scores = 1 / (1 + np.exp(-(rng.normal(size=(rows, classes)) + 1.5 * labels - 0.7)))
    if ties:
        scores = np.round(scores * 8) / 8
    return scores.astype(np.float32), labels


def padded_problem(seed: int, rows: int, classes: int, *, max_rows: int, ties: bool = False):
    """``random_problem(seed, rows, classes)`` padded to ``max_rows`` rows of weight 0.

    Returns:
      ``(scores, labels, weights, kept)``: the padded arrays, bool weights (False for the
      padding, whose scores are random) and the unpadded ``(scores, labels)``.
    """
    scores, labels = random_problem(seed, rows, classes, ties=ties)
    rng = np.random.default_rng(seed + 1)
    padding = max_rows - rows
    padded_scores = np.concatenate([scores, rng.random((padding, classes), np.float32)])
    padded_labels = np.concatenate([labels, rng.random((padding, classes)) < 0.5])
    weights = np.arange(max_rows) < rows
    return padded_scores, padded_labels, weights, (scores, labels)


def candidate_thresholds(values) -> np.ndarray:
    """Thresholds that give every distinct prediction of ``scores > t`` for these values:
    each distinct value, and one below them all."""
    values = np.asarray(values)
    return np.concatenate([np.unique(values), [values.min() - 1.0]])


@pytest.fixture
def problem():
    return random_problem(0)


def row_weights(kind: str, kept, seed: int) -> np.ndarray:
    """Row weights of ``kind`` that are 0 outside bool ``kept``: "bool" (``kept`` itself),
    "int" (multiplicities 0 to 3) or "float" (multiples of 1/4 up to 2, whose float32 sums
    are exact, so that NumPy brute force and the library agree to the bit)."""
    rng = np.random.default_rng(seed)
    if kind == "bool":
        return np.asarray(kept, bool)
    if kind == "int":
        return (kept * rng.integers(0, 4, len(kept))).astype(np.int32)
    return (kept * rng.integers(0, 9, len(kept)) / 4).astype(np.float32)


def slow_except(values, kept) -> list:
    """``values`` as parameters, those not in ``kept`` marked slow: the default run keeps
    a few representatives of a family (each method's own tests cover it), the slow run of
    ``.ci/run`` every member."""
    return [
        value if value in kept else pytest.param(value, marks=pytest.mark.slow) for value in values
    ]


#: The methods the default run keeps in tests parametrized over every method.
KEPT_METHODS = ("sgl", "exact", "default", "constrained")
