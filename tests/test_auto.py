import jax
import numpy as np
import pytest

import jaxthresh
from jaxthresh import benchmarks
from jaxthresh.auto import _candidates
from tests.conftest import random_problem


def test_winner_is_refitted_and_within_one_standard_error():
    scores, labels = random_problem(51, rows=200, classes=5)
    result = jaxthresh.fit_auto(scores, labels, n_folds=4)
    assert result.estimates.shape == (len(jaxthresh.CANDIDATES),)
    winner = int(result.winner)
    assert float(result.estimates[winner]) <= float(result.estimates.max())
    refits = jax.jit(_candidates, static_argnames="average")(
        scores, labels, np.ones(200, np.int32), "micro", 1.0
    )
    np.testing.assert_allclose(result.thresholds, refits[winner], atol=1e-6)
    # No more regularized candidate (earlier in CANDIDATES) beats the winner's estimate.
    assert np.all(np.asarray(result.estimates[:winner]) < float(result.estimates[winner]) + 1e-6)


def test_auto_inside_cross_validate():
    scores, labels = random_problem(52, rows=120, classes=3)
    result = jaxthresh.cross_validate(scores, labels, method="auto", n_folds=3, inner_folds=3)
    assert result.fits.winner.shape == (3,) and result.heldout_f1.shape == (3,)


def test_eval_rows_never_reach_fit_auto(benchmark_dir):
    benchmark = benchmarks.load_benchmark("dcase2019", benchmark_dir)
    rng = np.random.default_rng(0)
    scrambled = benchmark._replace(
        eval_scores=rng.random(benchmark.eval_scores.shape, np.float32),
        eval_labels=rng.random(benchmark.eval_labels.shape) < 0.5,
    )
    first = benchmarks.run_method(benchmark, "auto", {})
    second = benchmarks.run_method(scrambled, "auto", {})
    np.testing.assert_array_equal(first.thresholds, second.thresholds)
    assert first.valid_f1 == second.valid_f1 and first.eval_f1 != second.eval_f1


def test_fit_auto_checks_its_inputs():
    scores, labels = random_problem(53, rows=4, classes=2)
    with pytest.raises(ValueError, match="n_folds: 5 folds need at least 5 rows"):
        jaxthresh.fit_auto(scores, labels)
    with pytest.raises(ValueError, match="average"):
        jaxthresh.fit_auto(scores, labels, n_folds=2, average="weighted")


def test_too_few_rows_for_inner_folds_through_every_entry_point():
    scores, labels = random_problem(54, rows=4, classes=2)
    with pytest.raises(ValueError, match="inner_folds: 5 inner folds need at least 5"):
        jaxthresh.fit("auto", scores, labels)
    with pytest.raises(ValueError, match="inner_folds: must be >= 2"):
        jaxthresh.fit("auto", scores, labels, inner_folds=1)


def test_shrunk_candidates_predict_nothing_for_a_class_without_positives():
    scores, labels = random_problem(55, rows=200, classes=4)
    labels[:, 3] = False
    fitted = jax.jit(_candidates, static_argnames="average")(
        scores, labels, np.ones(200, np.int32), "micro", 1.0
    )
    for name, thresholds in zip(jaxthresh.CANDIDATES, np.asarray(fitted), strict=True):
        if name.startswith("shrunk") or name == "exact":
            assert not (scores[:, 3] > thresholds[3]).any(), name
