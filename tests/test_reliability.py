"""Hostile inputs through the Python API: every case gets the right answer, a clear error
or a FitWarning naming the classes, never a silently wrong answer. (The command-line
cases are in tests/cli/.)"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxthresh
from jaxthresh.core import diagnostics
from jaxthresh.core.diagnostics import FitWarning
from jaxthresh.methods import exact
from tests.conftest import random_problem

SCORES, LABELS = random_problem(90, rows=200, classes=4)
TINY = np.float32(1e-40)  # scores times this are subnormal floats, which XLA flushes
# What a method needs beyond its defaults (here, fast or required settings).
NEEDS = {"auto": {"inner_folds": 3}, "constrained": {"min_precision": 0.5}}


def _quiet(fit, *args, **kwargs):
    """The fit, failing on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fit(*args, **kwargs)


def test_ordinary_fits_warn_about_nothing():
    for method in jaxthresh.METHODS:
        _quiet(jaxthresh.fit, method, SCORES, LABELS, **NEEDS.get(method, {}))


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_exact_searches_on_subnormal_scores_agree_with_numpy(average):
    tiny = SCORES * TINY
    assert np.all((tiny > 0) & (tiny < np.finfo(np.float32).tiny))
    best = _quiet(jaxthresh.fit_exact, SCORES, LABELS, average=average)
    found = _quiet(jaxthresh.fit_exact, tiny, LABELS, average=average)
    reached = jaxthresh.f1_score(LABELS, tiny > np.asarray(found.thresholds), average=average)
    # Multiplying by 1e-40 rounds the scores (fewer bits) but keeps their order almost
    # everywhere, and the optimum on the rounded scores is the one reported.
    assert float(found.score) == pytest.approx(reached, abs=1e-6)
    assert reached == pytest.approx(float(best.score), abs=0.01)
    default = _quiet(jaxthresh.fit_default, tiny, LABELS, average=average)
    predicted = jaxthresh.apply_thresholds(tiny, default.thresholds)
    np.testing.assert_array_equal(predicted, tiny > np.asarray(default.thresholds))


def test_apply_thresholds_agrees_with_numpy_on_subnormal_and_float64_values():
    tiny = SCORES * TINY
    thresholds = np.float32(0.5) * TINY * np.ones(4, np.float32)
    expected = tiny > thresholds
    assert expected.sum() > 100
    np.testing.assert_array_equal(jaxthresh.apply_thresholds(tiny, thresholds), expected)
    np.testing.assert_array_equal(
        jaxthresh.apply_thresholds(jnp.asarray(tiny), thresholds), expected
    )
    jitted = jax.jit(jaxthresh.apply_thresholds)(jnp.asarray(tiny), thresholds)
    np.testing.assert_array_equal(jitted, expected)
    # float64 scores within float32 rounding of their threshold: compared in float64.
    close = np.float64(np.float32(0.3)) + np.array([-1e-9, 0.0, 1e-9])[:, None]
    np.testing.assert_array_equal(
        jaxthresh.apply_thresholds(close, np.float32(0.3)), close > np.float32(0.3)
    )
    assert list(np.asarray(jaxthresh.apply_thresholds(close, np.float32(0.3)))[:, 0]) == [
        False,
        False,
        True,
    ]


@pytest.mark.parametrize(
    "method, what", [("sgl", "learning_rate"), ("numerical", "step"), ("dicho", "spread")]
)
def test_steps_coarser_than_the_scores_are_warned(method, what):
    with pytest.warns(
        FitWarning, match=rf"{what}: {method} moves thresholds by about .* 4 classes"
    ):
        jaxthresh.fit(method, SCORES * TINY, LABELS)


@pytest.mark.parametrize("method", ["sgl", "numerical"])
@pytest.mark.parametrize("init", [5.0, -5.0])
def test_init_outside_the_scores_is_warned(method, init):
    with pytest.warns(FitWarning) as caught:
        result = jaxthresh.fit(method, SCORES, LABELS, init=init)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("init: outside the range of the scores of 4 classes") for m in messages)
    assert any(
        f"{method}: the thresholds of 4 classes (0, 1, 2, 3) did not move" in m for m in messages
    )
    np.testing.assert_array_equal(result.thresholds, init)


def test_integer_scores_fit_from_the_default_init_and_small_steps_are_warned():
    integers = np.round(SCORES * 100)
    best = jaxthresh.fit_exact(integers, LABELS)
    for fit in (jaxthresh.fit_sgl, jaxthresh.fit_numerical):
        fitted = _quiet(fit, integers, LABELS)
        reached = jaxthresh.f1_score(LABELS, integers > np.asarray(fitted.thresholds))
        assert reached > float(best.score) - 0.03, fit
    with pytest.warns(FitWarning) as caught:
        jaxthresh.fit_sgl(integers, LABELS, init=np.median(integers, axis=0) + 0.5)
    assert any("sgl: no prediction changed from init" in str(w.message) for w in caught)


@pytest.mark.parametrize("method", list(jaxthresh.METHODS))
def test_labels_without_positives_are_warned(method):
    kw = NEEDS.get(method, {})
    with pytest.warns(FitWarning, match="labels: no row is positive in any class"):
        fitted = jaxthresh.fit(method, SCORES, np.zeros_like(LABELS), **kw)
    # Every method then predicts nothing, the only F-beta 1 (zero-division rule) there is;
    # none reports 0 where another reports 1.
    predictions = jaxthresh.apply_thresholds(SCORES, fitted.thresholds)
    assert jaxthresh.f1_score(np.zeros_like(LABELS), predictions) == 1.0
    one_empty = LABELS.copy()
    one_empty[:, 2] = False
    with pytest.warns(FitWarning, match=r"labels: no positive rows in 1 class \(2\)"):
        jaxthresh.fit(method, SCORES, one_empty, **kw)


def test_float64_scores_too_small_for_float32_are_warned():
    with pytest.warns(FitWarning, match=r"scores: 800 non-zero float64 values of 4 classes"):
        jaxthresh.fit_exact(SCORES.astype(np.float64) * 1e-300, LABELS)


def test_float64_scores_that_float32_rounds_across_a_threshold_are_warned():
    # Two float32 neighbours a < b: the best cut lies between them, at a. A float64 score
    # just above a (labelled negative) rounds to a: the float32 fit counts it below the
    # threshold, NumPy's float64 comparison above it.
    a = np.float32(0.3)
    b = np.nextafter(a, np.float32(1))
    scores = np.array([a, a, b, b, np.float64(a) + 1e-9], np.float64)[:, None]
    labels = np.array([0, 0, 1, 1, 0])[:, None]
    with pytest.warns(FitWarning, match="predict 1 of them differently; pass float32 scores"):
        result = jaxthresh.fit_exact(scores, labels)
    assert float(result.thresholds[0]) == a
    _quiet(jaxthresh.fit_exact, scores.astype(np.float32), labels)


def test_a_micro_search_that_does_not_converge_is_warned(monkeypatch):
    monkeypatch.setattr(exact, "MAX_DINKELBACH_STEPS", 1)
    scores, labels = random_problem(91, rows=37, classes=3)  # a shape compiled only here
    with pytest.warns(FitWarning, match="exact: the micro search stopped after 1 Dinkelbach"):
        jaxthresh.fit_exact(scores, labels)


def test_thresholds_near_zero_are_warned():
    summary = diagnostics.ClassSummary(
        positives=np.array([3, 3, 0]),
        low=np.float32([-1e-35, 0.2, -1e-35]),
        high=np.float32([1e-35, 0.9, 1e-35]),
    )
    messages = diagnostics.near_zero_warnings(summary, np.float32([1e-36, 1e-36, 1e-36]), "sgl")
    assert (
        messages == [messages[0]]
        and "the thresholds and scores of 2 classes (0, 2) lie within" in messages[0]
    )
    assert diagnostics.near_zero_warnings(summary, np.float32([0.5, 0.5, 0.0]), "sgl") == []


def test_warnings_name_at_most_a_few_classes():
    assert diagnostics.class_list(range(8)) == "8 classes (0, 1, 2, 3, 4, ...)"
    assert diagnostics.class_list([3], ["a", "b", "c", "dog"]) == "1 class (dog)"


def test_no_warning_inside_jit():
    """Values are unknown while tracing: no check runs, nothing is warned."""
    zeros = np.zeros_like(LABELS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jax.jit(lambda s, y: jaxthresh.fit_exact(s, y).thresholds)(SCORES, zeros)
