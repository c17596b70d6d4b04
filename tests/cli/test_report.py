"""The names of scores in the tool's lines: the objective and its average, an F-beta's beta
as the user wrote it; and how scores are printed."""

import numpy as np
import pytest

from jaxthresh import objectives
from jaxthresh.cli.report import formatted_score, score_name
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
        ("micro", 1e-4, "micro-F0.0001"),  # float32 9.99999975e-05: not F9.99999975e-05
        ("micro", 10000.0, "micro-F10000"),
        ("weighted", 2.0, "weighted-F2"),
    ],
)
def test_score_name(average, beta, name):
    assert score_name(objectives.fbeta(beta), average) == name


def test_a_beta_float32_cannot_weigh_has_no_name():
    """A subnormal beta (once named F1e-40, not F9.99995e-41) is no F-beta any more."""
    with pytest.raises(ValueError, match=r"^objective: fbeta's beta must be between"):
        objectives.fbeta(np.float32(1e-40))


@pytest.mark.parametrize(
    "objective, average, name",
    [
        ("f1", "micro", "micro-F1"),
        ("jaccard", "micro", "micro-jaccard"),
        ("accuracy", "macro", "macro-accuracy"),
        ("balanced_accuracy", "weighted", "weighted-balanced_accuracy"),
        ("mcc", "macro", "macro-mcc"),
        ("precision", "micro", "micro-precision"),
        ("recall", "macro", "macro-recall"),
        (objectives.utility(1.0, -0.2, -1.0, 0.0), "micro", "micro-utility"),
        (objectives.custom(lambda tp, fp, fn, tn: tp), "macro", "macro-custom"),
    ],
)
def test_score_name_of_every_objective(objective, average, name):
    assert score_name(objectives.get(objective), average) == name


@pytest.mark.parametrize(
    "objective, value, shown",
    [
        ("f1", 0.481449, "48.14%"),
        ("jaccard", 1.0, "100.00%"),
        ("mcc", -0.25, "-25.00%"),
        (objectives.fbeta(2.0), 0.0, "0.00%"),
        (objectives.utility(1.0, -0.2, -1.0, 0.0), -12.6000004, "-12.6"),
        (objectives.utility(1.0, -0.2, -1.0, 0.0), 1234567.0, "1.23457e+06"),
        (objectives.custom(lambda tp, fp, fn, tn: tp), 3.0, "3"),
    ],
)
def test_utilities_and_custom_scores_are_numbers_the_others_percentages(objective, value, shown):
    assert formatted_score(objectives.get(objective), value) == shown


@pytest.mark.parametrize("beta, name", [("0.3", "micro-F0.3"), ("2", "micro-F2")])
def test_fit_names_its_score_with_beta(tmp_path, monkeypatch, beta, name):
    scores, labels = random_problem(41, rows=40, classes=4)
    monkeypatch.chdir(tmp_path)
    np.save("s.npy", scores)
    np.save("l.npy", labels)
    arguments = ["--scores=s.npy", "--labels=l.npy", "--method=exact", "--output=o.json"]
    ran = succeeded(["fit", *arguments, f"--beta={beta}"])
    assert ran.stdout.startswith(f"exact: {name} "), ran.stdout
