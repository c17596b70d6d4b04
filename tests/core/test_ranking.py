"""Average precision and ROC AUC equal scikit-learn's (ties, row weights, every average),
inside ``jit`` and ``vmap``, on histograms, and where a class is undefined.

Speed: the small problems share one shape (ROWS x CLASSES, padded with rows of weight 0
where they are smaller) and, mostly, int row weights, so that they share compiled
programs."""

import warnings

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

import jaxthresh
from jaxthresh.core import cuts, ranking
from jaxthresh.core.diagnostics import FitWarning

AVERAGES = (None, "macro", "weighted", "micro")
METRICS = {
    "average_precision": (jaxthresh.average_precision, average_precision_score),
    "roc_auc": (jaxthresh.roc_auc, roc_auc_score),
}
ROWS, CLASSES = 48, 4


def _sklearn(metric, labels, scores, weights=None, average="macro"):
    """scikit-learn's value on the same float32 scores (its warnings about undefined
    classes silenced: the tests check ours)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return METRICS[metric][1](
            np.asarray(labels),
            np.asarray(scores, np.float32),
            sample_weight=weights,
            average=average,
        )


def _assert_equal_to_sklearn(labels, scores, weights=None, rtol=1e-5):
    for name, (ours, _) in METRICS.items():
        for average in AVERAGES:
            got = np.asarray(ours(labels, scores, weights, average=average))
            want = _sklearn(name, labels, scores, weights, average)
            assert got.dtype == np.float32 and got.shape == np.shape(want), (name, average)
            np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-7, err_msg=(name, average))


def _problem(seed: int, rows: int = ROWS, levels: int = 9):
    """``(labels, scores, int weights)`` of ROWS x CLASSES: ``rows`` rows of weights 0 to
    3 (then rows of weight 0), scores on ``levels`` values (heavy ties), and in every class
    a positive and a negative row of weight > 0."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random((ROWS, CLASSES)) * (levels - 1)) / (levels - 1)
    labels = rng.random((ROWS, CLASSES)) < rng.uniform(0.1, 0.9)
    labels[0], labels[1] = True, False
    weights = rng.integers(0, 4, ROWS) * (np.arange(ROWS) < rows)
    weights[:2] = rng.integers(1, 4, 2)
    return labels, scores.astype(np.float32), weights


@pytest.mark.parametrize(
    "dataset, weighted",
    [
        ("dcase2017", True),
        ("dcase2019", False),
        pytest.param("dcase2017", False, marks=pytest.mark.slow),
        pytest.param("dcase2019", True, marks=pytest.mark.slow),
    ],
)
def test_equal_to_sklearn_on_the_dcase_eval_scores(benchmark_dir, dataset, weighted):
    data = np.load(benchmark_dir / f"{dataset}.npz")
    scores, labels = data["eval_scores"], data["eval_labels"]
    weights = np.random.default_rng(1).integers(0, 4, len(scores)) if weighted else None
    _assert_equal_to_sklearn(labels, scores, weights)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, ROWS), st.integers(2, 5))
def test_equal_to_sklearn_with_heavy_ties(seed, rows, levels):
    # sklearn drops the rows of weight 0 as we do: both see the padded problem.
    _assert_equal_to_sklearn(*_problem(seed, rows, levels))


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_equal_to_sklearn_with_bool_and_float_weights(kind):
    labels, scores, weights = _problem(2)
    if kind == "bool":
        weights = weights > 0
    else:  # real weights, float32 to us (sklearn: float64), summed as float32 (float64)
        weights = weights * np.random.default_rng(3).uniform(0.5, 2.0, ROWS)
    _assert_equal_to_sklearn(labels, scores, weights)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, ROWS), st.integers(2, 30), st.booleans())
def test_equal_to_sklearn_with_ties_many_examples(seed, rows, levels, floats):
    labels, scores, weights = _problem(seed, rows, levels)
    _assert_equal_to_sklearn(labels, scores, weights / 4 if floats else weights)


@pytest.mark.slow
def test_equal_to_sklearn_on_the_audioset_stand_in(benchmark_dir):
    data = np.load(benchmark_dir / "audioset_eval_sim.npz")
    _assert_equal_to_sklearn(data["labels"], data["scores"])


def _every_value(labels, scores, weights):
    """Both metrics per class and micro (the two programs; the other averages reduce the
    per-class values), in one function: one compilation under ``jit`` or ``vmap``."""
    return {
        f"{name} {average}": ours(labels, scores, weights, average=average)
        for name, (ours, _) in METRICS.items()
        for average in (None, "micro")
    }


def test_jit_and_vmap_equal_plain_calls():
    problems = [_problem(20 + i) for i in range(3)]
    labels, scores, weights = (np.stack(a) for a in zip(*problems, strict=True))
    plain = [_every_value(labels[i], scores[i], weights[i]) for i in range(3)]
    jitted = jax.jit(_every_value)(labels[0], scores[0], weights[0])
    batched = jax.vmap(_every_value)(labels, scores, weights)
    for key, value in plain[0].items():
        np.testing.assert_allclose(jitted[key], value, rtol=1e-6, err_msg=key)
    for i in range(3):
        for key, value in plain[i].items():
            np.testing.assert_allclose(batched[key][i], value, rtol=1e-6, err_msg=key)


def _eighths(labels, scores):
    """The histogram that jaxthresh.histogram_pass(scores, labels, bins=8,
    score_range=(0, 1)) counts (its compilation spared): cells of width 1/8 from 0, cell
    k holding the scores in (k/8, (k+1)/8]."""
    cells = np.clip(np.ceil(scores * 8).astype(int) - 1, 0, 7)
    counts = np.stack([np.bincount(cells[:, c], minlength=8) for c in range(CLASSES)])
    positives = np.stack(
        [np.bincount(cells[:, c], labels[:, c], minlength=8) for c in range(CLASSES)]
    )
    return jaxthresh.Histogram(
        np.zeros(CLASSES, np.float32),
        np.full(CLASSES, 1 / 8, np.float32),
        counts.astype(np.int32),
        positives.astype(np.int32),
        scores.max(0),
    )


def test_histogram_metrics_under_jit_and_vmap_equal_plain_calls():
    histograms = [_eighths(*_problem(30 + i)[:2]) for i in range(3)]
    stacked = jax.tree.map(lambda *a: np.stack(a), *histograms)

    def every_value(histogram):
        return {
            f"{ours.__name__} {average}": ours(histogram, average=average)
            for ours in (ranking.average_precision_of_histogram, ranking.roc_auc_of_histogram)
            for average in (None, "micro")
        }

    plain = [every_value(h) for h in histograms]
    jitted = jax.jit(every_value)(histograms[0])
    batched = jax.vmap(every_value)(stacked)
    for i in range(3):
        for key, value in plain[i].items():
            np.testing.assert_array_equal(batched[key][i], value, err_msg=key)
            if i == 0:
                np.testing.assert_array_equal(jitted[key], value, err_msg=key)


@pytest.mark.parametrize("kind", ["bool", pytest.param("float", marks=pytest.mark.slow)])
def test_the_generic_sort_equals_the_cpu_one(kind):
    # The generic path (lax.sort with payloads, associative scans, float32 terms summed
    # pairwise) is what GPUs run; int and float weights share its code.
    labels, scores, weights = _problem(6)
    weights = (weights > 0) if kind == "bool" else (weights / 4).astype(np.float32)
    weights = np.broadcast_to(weights[:, None], scores.shape).T
    keys = cuts.kept_keys(scores.T, weights > 0)

    @jax.jit
    def both(keys, labels, weights):
        return [ranking.ranking_of_slots(keys, labels, weights, v) for v in ("cpu", "generic")]

    cpu, generic = both(keys, labels.T, weights)
    np.testing.assert_array_equal(generic.positives, cpu.positives)
    np.testing.assert_array_equal(generic.negatives, cpu.negatives)
    np.testing.assert_allclose(generic.average_precision, cpu.average_precision, rtol=1e-6)
    np.testing.assert_allclose(generic.roc_auc, cpu.roc_auc, rtol=1e-6)


def test_pieces_of_the_sorted_slots_add_up(monkeypatch):
    # On CPU the levels are summed in pieces of CHUNK_SLOTS slots: pieces that cut runs
    # of ties give the values of a single piece.
    labels, scores, weights = _problem(7, levels=4)
    whole = jaxthresh.roc_auc(labels, scores, weights, average=None)
    # The callback reads it at every call: 3 slots of each class a piece, 16 pieces.
    monkeypatch.setattr(ranking, "CHUNK_SLOTS", 3 * CLASSES)
    pieces = jaxthresh.roc_auc(labels, scores, weights, average=None)
    np.testing.assert_allclose(pieces, whole, rtol=1e-6)


def test_per_label_weights_equal_to_row_weights_give_the_same():
    labels, scores, weights = _problem(9)
    per_label = np.repeat(weights[:, None], CLASSES, axis=1)
    for ours, _ in METRICS.values():
        for average in ("weighted", "micro"):
            np.testing.assert_array_equal(
                ours(labels, scores, per_label, average=average),
                ours(labels, scores, weights, average=average),
            )


@pytest.mark.parametrize("metric", list(METRICS))
def test_bins_with_a_cell_per_distinct_score_equal_the_rows(metric):
    # Scores on a grid of eighths: 64 cells over each class's range put every distinct
    # score in a cell of its own. (micro pools cells by their centres: see the centres.)
    labels, scores, weights = _problem(11)
    ours = METRICS[metric][0]
    for average in (None, "macro", "weighted"):
        np.testing.assert_allclose(
            ours(labels, scores, weights, average=average, bins=64),
            ours(labels, scores, weights, average=average),
            rtol=1e-6,
        )


@pytest.mark.slow
def test_eighths_are_what_histogram_pass_counts():
    labels, scores, _ = _problem(31)
    counted = jaxthresh.histogram_pass(scores, labels, bins=8, score_range=(0.0, 1.0))
    for got, want in zip(counted, _eighths(labels, scores), strict=True):
        np.testing.assert_array_equal(got, want)


def test_histograms_of_scores_on_cell_centres_equal_sklearn():
    rng = np.random.default_rng(13)
    scores = ((rng.integers(0, 8, (ROWS, CLASSES)) + 0.5) / 8).astype(np.float32)
    labels = rng.random((ROWS, CLASSES)) < 0.4
    labels[0], labels[1] = True, False
    histogram = _eighths(labels, scores)
    of_histogram = {
        "average_precision": ranking.average_precision_of_histogram,
        "roc_auc": ranking.roc_auc_of_histogram,
    }
    for metric, ours in of_histogram.items():
        for average in AVERAGES:
            np.testing.assert_allclose(
                ours(histogram, average=average),
                _sklearn(metric, labels, scores, average=average),
                rtol=1e-5,
                err_msg=(metric, average),
            )


def _undefined_problem():
    """Class 1 without positive rows of weight > 0, class 3 without negative ones."""
    labels, scores, weights = _problem(14)
    labels[:, 1], labels[:, 3] = False, True
    return labels, scores, weights


def test_average_precision_of_classes_without_positives_is_0_as_sklearn():
    labels, scores, weights = _undefined_problem()
    for average in (None, "macro", "weighted"):
        with pytest.warns(FitWarning, match=r"labels: no positive rows in 1 class \(1\)"):
            value = jaxthresh.average_precision(labels, scores, weights, average=average)
        want = _sklearn("average_precision", labels, scores, weights, average=average)
        np.testing.assert_allclose(value, want, rtol=1e-6)
        if average is None:
            assert float(value[1]) == 0.0
    np.testing.assert_allclose(  # pooled, there are positives: no warning
        jaxthresh.average_precision(labels, scores, weights, average="micro"),
        _sklearn("average_precision", labels, scores, weights, average="micro"),
        rtol=1e-6,
    )


def test_roc_auc_of_undefined_classes_is_nan_and_left_out_of_the_averages():
    labels, scores, weights = _undefined_problem()
    message = r"1 class \(1\) without positive rows and for 1 class \(3\) without negative"
    with pytest.warns(FitWarning, match=message):
        per_class = np.asarray(jaxthresh.roc_auc(labels, scores, weights, average=None))
    want = _sklearn("roc_auc", labels, scores, weights, average=None)
    np.testing.assert_allclose(per_class, want, rtol=1e-6)  # NaN where sklearn's is
    assert np.isnan(per_class[[1, 3]]).all()
    positives = (labels[:, [0, 2]] * weights[:, None]).sum(0)
    expected = {
        "macro": per_class[[0, 2]].mean(),
        "weighted": (per_class[[0, 2]] * positives).sum() / positives.sum(),
    }
    for average, value in expected.items():
        with pytest.warns(FitWarning, match=f"the {average} average leaves them out"):
            got = jaxthresh.roc_auc(labels, scores, weights, average=average)
        np.testing.assert_allclose(got, value, rtol=1e-6)
    np.testing.assert_allclose(  # pooled, both labels are there: no warning
        jaxthresh.roc_auc(labels, scores, weights, average="micro"),
        _sklearn("roc_auc", labels, scores, weights, average="micro"),
        rtol=1e-6,
    )


def test_no_positive_label_at_all():
    _, scores, weights = _problem(15)
    labels = np.zeros(scores.shape, bool)
    with pytest.warns(FitWarning, match="no positive label in any class"):
        assert float(jaxthresh.average_precision(labels, scores, weights, average="micro")) == 0
    with pytest.warns(FitWarning, match=r"no positive rows in 4 classes \(0, 1, 2, 3\)"):
        assert float(jaxthresh.average_precision(labels, scores, weights, average="weighted")) == 0
    with pytest.warns(FitWarning, match="no positive label in any class"):
        assert np.isnan(jaxthresh.roc_auc(labels, scores, weights, average="micro"))
    with pytest.warns(FitWarning, match=r"4 classes \(0, 1, 2, 3\) without positive rows"):
        assert np.isnan(jaxthresh.roc_auc(labels, scores, weights, average="macro"))


def test_no_warning_under_jit():
    labels, scores, weights = _undefined_problem()
    value = jax.jit(lambda *a: jaxthresh.roc_auc(*a, average=None))(labels, scores, weights)
    assert np.isnan(np.asarray(value)[[1, 3]]).all()


@pytest.mark.parametrize("average", ["samples", "MACRO", 3, ""])
def test_a_bad_average_is_named(average):
    labels, scores, _ = _problem(16)
    histogram = jaxthresh.Histogram(
        np.zeros(CLASSES, np.float32),
        np.ones(CLASSES, np.float32),
        np.ones((CLASSES, 2), np.int32),
        np.eye(CLASSES, 2, dtype=np.int32),
        np.ones(CLASSES, np.float32),
    )
    for call in (
        lambda: jaxthresh.average_precision(labels, scores, average=average),
        lambda: jaxthresh.roc_auc(labels, scores, average=average),
        lambda: ranking.average_precision_of_histogram(histogram, average=average),
        lambda: ranking.roc_auc_of_histogram(histogram, average=average),
    ):
        with pytest.raises(ValueError, match=r"^average: must be one of macro, weighted, micro"):
            call()


def test_bad_inputs_are_named():
    labels, scores, _ = _problem(17)
    with pytest.raises(ValueError, match=r"^labels: shape"):
        jaxthresh.roc_auc(labels[:, :1], scores)
    with pytest.raises(ValueError, match=r"^sample_weight: must be finite and >= 0"):
        jaxthresh.roc_auc(labels, scores, -np.ones(ROWS))
    with pytest.raises(ValueError, match=r"^bins"):
        jaxthresh.average_precision(labels, scores, bins=0)
    with pytest.raises(ValueError, match=r"^histogram: expected a jaxthresh.Histogram"):
        ranking.roc_auc_of_histogram(scores)
