"""Hostile inputs through the Python API: every case gets the right answer, a clear error
or a FitWarning naming the classes, never a silently wrong answer. (The command-line
cases are in tests/cli/.)"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxthresh
from jaxthresh import objectives
from jaxthresh.core import diagnostics
from jaxthresh.core.diagnostics import FitWarning
from jaxthresh.methods import exact
from tests.conftest import KEPT_METHODS, random_problem, slow_except

SCORES, LABELS = random_problem(90, rows=200, classes=4)
TINY = np.float32(1e-40)  # scores times this are subnormal floats, which XLA flushes
# What a method needs beyond its defaults (here, fast or required settings).
NEEDS = {"auto": {"inner_folds": 3}, "constrained": {"min_precision": 0.5}}


def _quiet(fit, *args, **kwargs):
    """The fit, failing on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fit(*args, **kwargs)


@pytest.mark.slow
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


@pytest.mark.parametrize("method", slow_except(jaxthresh.METHODS, KEPT_METHODS))
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


# Round two (a fuzz of the library, the tool and the estimators): each case and its
# neighbours. The command-line cases are in tests/cli/test_reliability.py.

N_ROWS, N_CLASSES = SCORES.shape


def _refused(match, fit, *args, **kwargs):
    with pytest.raises(ValueError, match=match):
        fit(*args, **kwargs)


def _every_entry_point(weights):
    """The public calls that take row weights, each as ``(name, call)``."""
    return [
        ("fit_exact", lambda: jaxthresh.fit_exact(SCORES, LABELS, weights)),
        ("fit_sgl", lambda: jaxthresh.fit_sgl(SCORES, LABELS, weights, epochs=2)),
        ("fit macro", lambda: jaxthresh.fit_exact(SCORES, LABELS, weights, average="macro")),
        ("cross_validate", lambda: jaxthresh.cross_validate(SCORES, LABELS, "exact", weights)),
        ("threshold_curves", lambda: jaxthresh.threshold_curves(SCORES, LABELS, weights)),
        ("f1_score", lambda: jaxthresh.f1_score(LABELS, SCORES > 0.5, sample_weight=weights)),
        ("confusion_counts", lambda: jaxthresh.confusion_counts(LABELS, SCORES > 0.5, weights)),
    ]


OVERFLOWING = {
    # Per class, the counts pass 2**31 - 1 (int32 would wrap).
    "int total past 2**31": np.full(N_ROWS, 2**31 // N_ROWS + 1, np.int64),
    "one weight of 2**31": np.r_[np.ones(N_ROWS - 1, np.int64), 2**31],
    "uint64 weights": np.full(N_ROWS, 2**40, np.uint64),
    "float total past float32": np.full(N_ROWS, 1e37),
}


@pytest.mark.parametrize("weights", OVERFLOWING.values(), ids=OVERFLOWING.keys())
def test_weights_whose_counts_would_overflow_are_refused_everywhere(weights):
    for name, call in _every_entry_point(weights):
        with pytest.raises(ValueError, match=r"^sample_weight: the weights total"):
            call()
        assert name  # every entry point refused


def test_pooled_counts_that_would_overflow_are_refused_but_per_class_ones_are_not():
    # Each class's counts fit in int32; the counts pooled over the classes (micro, and
    # the searches of one threshold for every class) would not.
    weights = np.full(N_ROWS, (2**31 - 1) // (N_ROWS * 2), np.int64)
    assert weights.sum() < 2**31 <= weights.sum() * N_CLASSES
    with pytest.raises(ValueError, match=rf"over {N_CLASSES} classes"):
        jaxthresh.fit_exact(SCORES, LABELS, weights)
    # f1_score sums micro totals in int64 on concrete inputs: exact, and equal to repeats.
    small = weights // weights[0]
    assert jaxthresh.f1_score(LABELS, SCORES > 0.5, sample_weight=weights) == pytest.approx(
        jaxthresh.f1_score(LABELS, SCORES > 0.5, sample_weight=small), abs=1e-12
    )


def test_the_largest_weights_accepted_count_exactly():
    # Totals just below the limit: the fit's score is the F1 at its thresholds.
    weights = np.full(N_ROWS, (2**31 - 1) // (N_ROWS * N_CLASSES), np.int64)
    found = jaxthresh.fit_exact(SCORES, LABELS, weights)
    reached = jaxthresh.f1_score(
        LABELS, jaxthresh.apply_thresholds(SCORES, found.thresholds), sample_weight=weights
    )
    assert float(found.score) == pytest.approx(reached, abs=1e-6)
    plain = jaxthresh.fit_exact(SCORES, LABELS)
    np.testing.assert_array_equal(found.thresholds, plain.thresholds)


def test_scores_whose_pooled_counts_would_overflow_are_refused_at_trace_time():
    big = jax.ShapeDtypeStruct((2**21, 2**10), jnp.float32)
    labels = jax.ShapeDtypeStruct(big.shape, jnp.bool_)
    with pytest.raises(ValueError, match=r"^scores: 2097152 rows x 1024 classes"):
        jax.eval_shape(jaxthresh.fit_exact, big, labels)


DEGENERATE = {
    "all zero": np.zeros(N_ROWS),
    "all False": np.zeros(N_ROWS, bool),
    "all zero ints": np.zeros(N_ROWS, np.int32),
}


@pytest.mark.parametrize("weights", DEGENERATE.values(), ids=DEGENERATE.keys())
def test_weights_that_leave_no_row_are_refused_by_fits_and_scores(weights):
    # Counts of no row are an answer (zeros, an empty curve); a fit or a score is not.
    counting = ("threshold_curves", "confusion_counts")
    for name, call in _every_entry_point(weights):
        if name in counting:
            counts = call()
            fields = (counts.positives,) if name == "threshold_curves" else counts
            assert not any(np.any(np.asarray(field)) for field in fields)
            continue
        with pytest.raises(ValueError, match=r"^sample_weight: every weight is 0"):
            call()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subnormal_weights_are_refused_not_counted_as_zero(dtype):
    weights = np.ones(N_ROWS, dtype)
    weights[3] = dtype(1e-40)
    for _, call in _every_entry_point(weights):
        with pytest.raises(ValueError, match=r"^sample_weight: 1 weight\(s\) are not 0 .* row 3"):
            call()
    # Scaled up, as the message says, they fit.
    jaxthresh.fit_exact(SCORES, LABELS, weights * dtype(1e20))


def test_a_fold_whose_rows_all_weigh_zero_is_refused():
    ids = np.asarray(jaxthresh.cross_validate(SCORES, LABELS, "exact", n_folds=3).fold_ids)
    weights = (ids == 0).astype(np.int32)  # only fold 0's rows count: its fits have none
    for method in ("exact", "sgl", "dicho"):
        with pytest.raises(ValueError, match=r"^sample_weight: the fitting rows of fold 0"):
            jaxthresh.cross_validate(SCORES, LABELS, method, weights, n_folds=3)
    with pytest.raises(ValueError, match=r"^sample_weight: the held-out rows of fold 0"):
        jaxthresh.cross_validate(SCORES, LABELS, "exact", (ids != 0).astype(int), n_folds=3)


def test_a_threshold_that_predicts_nothing_is_finite_where_no_row_counts():
    # Only reachable inside a caller's jit (concrete all-zero weights are refused): the
    # thresholds predict nothing and are finite, so apply and the thresholds file take them.
    found = jax.jit(jaxthresh.fit_exact)(SCORES, LABELS, jnp.zeros(N_ROWS, bool))
    thresholds = np.asarray(found.thresholds)
    assert np.all(np.isfinite(thresholds))
    assert not jaxthresh.apply_thresholds(SCORES, thresholds).any()


@pytest.mark.parametrize("method", ["exact", "sgl", "default", "numerical", "dicho", "auto"])
@pytest.mark.parametrize("beta", [1e-20, 1e-5, 2e4, 1e20, float("inf")])
def test_betas_float32_cannot_weigh_are_refused(method, beta):
    # F-beta is an objective now: its beta is checked where it is built, and a beta given
    # to a fit is refused, naming the objective hyperparameter that replaced it.
    kw = NEEDS.get(method, {})
    _refused(
        r"^objective: fbeta's beta must be between 0\.0001 and 10000",
        lambda: jaxthresh.fit(method, SCORES, LABELS, objective=objectives.fbeta(beta), **kw),
    )
    _refused(
        rf"^hyperparameters: method '{method}' does not take beta; it takes .*objective",
        jaxthresh.fit,
        method,
        SCORES,
        LABELS,
        beta=beta,
        **kw,
    )


@pytest.mark.parametrize("beta", [1e-20, 1e20])
def test_betas_float32_cannot_weigh_are_refused_by_the_metrics(beta):
    _refused(r"^beta: must be", jaxthresh.f1_score, LABELS, SCORES > 0.5, beta=beta)
    counts = jaxthresh.confusion_counts(LABELS, SCORES > 0.5)
    _refused(r"^objective: fbeta's beta must be", jaxthresh.fbeta_from_counts, counts, beta=beta)
    _refused(
        r"^objective: fbeta's beta must be",
        lambda: jaxthresh.threshold_curves(SCORES, LABELS, objective=objectives.fbeta(beta)),
    )


@pytest.mark.parametrize("beta", [1e-4, 1e4])
def test_the_extreme_betas_accepted_give_precision_and_recall(beta):
    found = _quiet(jaxthresh.fit_exact, SCORES, LABELS, objective=objectives.fbeta(beta))
    predictions = jaxthresh.apply_thresholds(SCORES, found.thresholds)
    reached = jaxthresh.f1_score(LABELS, predictions, beta=beta)
    assert float(found.score) == pytest.approx(reached, abs=1e-6)
    assert 0 < reached <= 1
    true_positives = (predictions & LABELS).sum()
    # beta -> 0 is precision, beta -> inf recall: what the fit reaches.
    wanted = true_positives / (predictions.sum() if beta < 1 else LABELS.sum())
    assert reached == pytest.approx(wanted, abs=1e-3)


NEAR = np.array([[0.3, 0.3]])
CLOSE_THRESHOLDS = {
    "float64 array": np.array([0.29999999999, 0.30000000001]),
    "list of floats": [0.29999999999, 0.30000000001],
    "float32 array": np.array([0.29999999999, 0.30000000001], np.float32),
    "Python float": 0.29999999999,
    "list of float32 values": [0.3, 0.3],
    "JAX array": jnp.array([0.29999999999, 0.30000000001]),
}


@pytest.mark.parametrize("thresholds", CLOSE_THRESHOLDS.values(), ids=CLOSE_THRESHOLDS.keys())
@pytest.mark.parametrize("scores_dtype", [np.float64, np.float32])
def test_apply_thresholds_is_numpy_s_comparison_for_thresholds_of_any_dtype(
    thresholds, scores_dtype
):
    # NumPy's `scores > thresholds` in the wider dtype of the two; Python numbers and lists
    # are weakly typed (as NumPy treats a Python number): they take the scores' dtype.
    scores = NEAR.astype(scores_dtype)
    weak = isinstance(thresholds, float | list)
    given = np.asarray(thresholds, scores_dtype if weak else None)
    np.testing.assert_array_equal(jaxthresh.apply_thresholds(scores, thresholds), scores > given)
    # JAX scores are float32: float64 thresholds are rounded down, which leaves every
    # float32 comparison as NumPy's.
    single = scores.astype(np.float32)
    given = np.asarray(thresholds, np.float32 if weak else None)
    np.testing.assert_array_equal(
        jaxthresh.apply_thresholds(jnp.asarray(single), thresholds), single > given
    )
    if scores_dtype == np.float64 and not weak and given.dtype == np.float64:
        assert (scores > given).tolist() == [[True, False]]  # the case of the fuzz


def test_float64_thresholds_rounded_down_keep_every_float32_comparison():
    rng = np.random.default_rng(1)
    thresholds = rng.random(50)
    single = jaxthresh.core.thresholds.float32_below(thresholds)
    assert single.dtype == np.float32 and np.all(single <= thresholds)
    around = np.stack([np.nextafter(single, np.float32(v)) for v in (-1, 2)] + [single])
    np.testing.assert_array_equal(around > single, around.astype(np.float64) > thresholds)


SHIFTED = SCORES.astype(np.float64) + 1e8  # float32's spacing at 1e8 is 8


@pytest.mark.parametrize("method", list(jaxthresh.METHODS))
def test_float64_scores_float32_cannot_keep_apart_are_warned_for_every_method(method):
    with pytest.warns(FitWarning) as caught:
        jaxthresh.fit(method, SHIFTED, LABELS, **NEEDS.get(method, {}))
    messages = [str(w.message) for w in caught]
    merged = [m for m in messages if m.startswith("scores: float32 cannot keep apart")]
    assert len(merged) == 1 and "4 classes (0, 1, 2, 3)" in merged[0]
    assert "exact included" in merged[0]
    # No other warning sends the user to method exact, which cannot help either.
    assert not any("use method exact" in m for m in messages)


def test_float64_data_frames_are_checked_as_their_values():
    import pandas

    scores = pandas.DataFrame(SHIFTED, columns=list("abcd"))
    labels = pandas.DataFrame(LABELS, columns=list("abcd"))
    with pytest.warns(FitWarning, match=r"^scores: float32 cannot keep apart"):
        jaxthresh.fit_exact(scores, labels)


def test_float64_scores_float32_keeps_apart_are_not_warned():
    # float64 copies of float32 scores, and float64 scores with merges too rare to matter.
    _quiet(jaxthresh.fit_exact, SCORES.astype(np.float64), LABELS)
    rng = np.random.default_rng(2)
    scores = rng.random((2000, 3))
    labels = rng.random((2000, 3)) < 0.3
    _quiet(jaxthresh.fit_exact, scores, labels)


def test_float32_merges_counts_only_groups_a_float64_threshold_could_split():
    from jaxthresh.core.validation import float32_merges

    a = 1.0  # 1 + 1e-9 and 1 + 2e-9 are both 1.0 in float32
    scores = np.array([[a], [a + 1e-9], [a + 2e-9], [0.5], [0.5 + 1e-12]])
    mixed = np.array([[1], [0], [1], [1], [1]])  # the group at 1.0 holds both labels
    same = np.array([[1], [1], [1], [0], [1]])  # the group at 1.0 one label; 0.5's two
    counts, example = float32_merges(scores, mixed)
    assert counts.tolist() == [3] and example[2] == np.float32(1.0)
    counts, _ = float32_merges(scores, same)
    assert counts.tolist() == [2]  # 0.5 and 0.5 + 1e-12: distinct, both labels
    counts, example = float32_merges(scores.astype(np.float32), mixed)
    assert counts.tolist() == [0] and example is None


def test_bfloat16_and_float16_scores_are_fitted_as_float32():
    for dtype in (jnp.bfloat16, jnp.float16):
        scores = jnp.asarray(SCORES, dtype)
        found = jaxthresh.fit_exact(scores, LABELS)
        reference = jaxthresh.fit_exact(np.asarray(scores.astype(jnp.float32)), LABELS)
        np.testing.assert_array_equal(found.thresholds, reference.thresholds)
        np.testing.assert_array_equal(
            jaxthresh.apply_thresholds(scores, found.thresholds),
            np.asarray(scores.astype(jnp.float32)) > np.asarray(found.thresholds),
        )
    bad = jnp.asarray(SCORES, jnp.bfloat16).at[2, 1].set(jnp.nan)
    _refused(r"^scores: 1 value\(s\) are NaN", jaxthresh.fit_exact, bad, LABELS)


HISTOGRAM = jaxthresh.histogram_pass(SCORES, LABELS, bins=32)
MALFORMED = {
    "low of 3 classes": (
        HISTOGRAM._replace(low=HISTOGRAM.low[:3]),
        r"histogram\.low: expected shape \(4,\)",
    ),
    "positives of another shape": (
        HISTOGRAM._replace(positives=HISTOGRAM.positives[:, :5]),
        r"histogram\.positives: shape \(4, 5\) does not match",
    ),
    "1-D counts": (
        HISTOGRAM._replace(counts=HISTOGRAM.counts[0]),
        r"histogram\.counts: expected shape",
    ),
    "width 0": (HISTOGRAM._replace(width=jnp.zeros(4)), r"histogram\.width: must be > 0"),
    "NaN low": (
        HISTOGRAM._replace(low=HISTOGRAM.low.at[1].set(jnp.nan)),
        r"histogram\.low: must be finite .* class 1",
    ),
    "positives above counts": (
        HISTOGRAM._replace(positives=HISTOGRAM.counts + 1),
        r"histogram\.positives: must be >= 0 and at most the counts",
    ),
    "negative counts": (
        HISTOGRAM._replace(counts=HISTOGRAM.counts.at[0, 3].set(-1)),
        r"histogram\.counts: must be finite and >= 0, found -1 at \[class, cell\] \[0, 3\]",
    ),
    "no rows": (
        HISTOGRAM._replace(counts=HISTOGRAM.counts * 0, positives=HISTOGRAM.positives * 0),
        r"histogram\.counts: every count is 0",
    ),
    "counts past int32": (
        HISTOGRAM._replace(counts=HISTOGRAM.counts * 2**22, positives=HISTOGRAM.positives * 0),
        r"histogram\.counts: the counts of every class total",
    ),
    "string low": (
        HISTOGRAM._replace(low=np.array(["a"] * 4)),
        r"histogram\.low: expected a numeric array",
    ),
    "a tuple": (tuple(HISTOGRAM), r"histogram: expected a jaxthresh\.Histogram, got tuple"),
}


@pytest.mark.parametrize("histogram,match", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_histograms_are_refused(histogram, match):
    for method in ("exact", "sgl", "numerical"):
        _refused(match, jaxthresh.fit_histogram, method, histogram)
    if isinstance(histogram, jaxthresh.Histogram):
        _refused(match.replace("histogram", "scores", 1), jaxthresh.threshold_curves, histogram)


def test_a_well_formed_histogram_of_numpy_fields_fits_as_the_original():
    as_numpy = jaxthresh.Histogram(*(np.asarray(v) for v in HISTOGRAM))
    np.testing.assert_array_equal(
        jaxthresh.fit_histogram("exact", as_numpy).thresholds,
        jaxthresh.fit_histogram("exact", HISTOGRAM).thresholds,
    )


def test_per_label_weights_are_checked_as_row_weights_are():
    with pytest.raises(
        ValueError,
        match=r"^sample_weight: expected shape \(200,\), .* one per label, got \(200, 5\)",
    ):
        jaxthresh.fit_exact(SCORES, LABELS, np.ones((N_ROWS, N_CLASSES + 1)))
    heavy = np.zeros((N_ROWS, N_CLASSES), np.int64)
    heavy[:, 2] = 2**31 // N_ROWS + 1  # one class's counts pass int32
    for call in (jaxthresh.fit_exact, jaxthresh.f1_score):
        args = (SCORES, LABELS) if call is jaxthresh.fit_exact else (LABELS, SCORES > 0.5)
        with pytest.raises(
            ValueError, match=r"^sample_weight: the weights of (every label|class 2) total"
        ):
            call(*args, sample_weight=heavy)
    # Pooled over classes, a fit counts every label once: just below the bound is accepted.
    heavy[:, 2] = (2**31 - 1) // N_ROWS
    with pytest.warns(FitWarning, match="no positive rows in 3 classes"):  # 2 alone counts
        jaxthresh.fit_exact(SCORES, LABELS, heavy)
    tiny = np.ones((N_ROWS, N_CLASSES), np.float32)
    tiny[5, 2] = 1e-40
    with pytest.raises(ValueError, match=r"first at row 5, class 2"):
        jaxthresh.fit_exact(SCORES, LABELS, tiny)
    with pytest.raises(ValueError, match=r"^sample_weight: every weight is 0"):
        jaxthresh.fit_exact(SCORES, LABELS, np.zeros((N_ROWS, N_CLASSES), bool))


@pytest.mark.parametrize("method", slow_except(["exact", "sgl"], ["exact"]))
def test_per_label_weights_reach_the_histogram_path(method):
    # With bins, the cells count each label's weight: per-label weights repeating a row
    # weight give the row weights' fit.
    weights = np.random.default_rng(3).integers(0, 3, N_ROWS)
    kw = {"bins": 32, **NEEDS.get(method, {})}
    per_label = np.repeat(weights[:, None], N_CLASSES, axis=1)
    np.testing.assert_array_equal(
        jaxthresh.fit(method, SCORES, LABELS, per_label, **kw).thresholds,
        jaxthresh.fit(method, SCORES, LABELS, weights, **kw).thresholds,
    )


def test_per_label_weights_shard_and_fold():
    kept = np.random.default_rng(4).random((N_ROWS, N_CLASSES)) < 0.7
    sharded = jaxthresh.shard_rows(SCORES, LABELS, kept)
    np.testing.assert_array_equal(
        jaxthresh.fit_exact(*sharded).thresholds,
        jaxthresh.fit_exact(SCORES, LABELS, kept).thresholds,
    )
    # Iterative folds deal rows by the labels the weights keep.
    cv = jaxthresh.cross_validate(SCORES, LABELS, "exact", kept, folds="iterative")
    assert np.all(np.isfinite(np.asarray(cv.heldout_score)))
