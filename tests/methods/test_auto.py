import jax
import numpy as np
import pytest

import jaxthresh
from experiments import paper
from jaxthresh import objectives
from jaxthresh.core.folds import fold_ids, iterative_fold_ids
from jaxthresh.core.validation import Rows
from jaxthresh.methods.auto import candidate_thresholds
from tests.conftest import random_problem

_candidates = jax.jit(candidate_thresholds, static_argnames="average")

# The synthetic problems have the shape of dcase2019's validation rows and the benchmark
# test fits with the same settings, so that the whole file compiles fit_auto (and the
# candidates) once.
ROWS, CLASSES, INNER_FOLDS = 1122, 10, 3


def _one_standard_error_choice(scores, labels, key, inner_folds, average, beta, ids=None):
    """``(winner, estimates, standard error)`` recomputed apart from fit_auto: each
    candidate fitted on an inner fold's other rows (rows left out entirely) and scored on the
    held-out rows with ``f1_score``; the inner folds ``ids``, default random."""
    if ids is None:
        ids = np.asarray(fold_ids(key, len(scores), inner_folds))
    per_fold = []
    for fold in range(inner_folds):
        fitting, held = ids != fold, ids == fold
        fitted = np.asarray(
            _candidates(Rows(scores, labels, fitting), objectives.fbeta(beta), average=average)
        )
        per_fold.append(
            [
                jaxthresh.f1_score(labels[held], scores[held] > t, average=average, beta=beta)
                for t in fitted
            ]
        )
    per_fold = np.asarray(per_fold)  # [folds, candidates]
    estimates = per_fold.mean(axis=0)
    best = int(np.argmax(estimates))
    standard_error = per_fold[:, best].std(ddof=1) / np.sqrt(inner_folds)
    winner = int(np.flatnonzero(estimates >= estimates[best] - standard_error)[0])
    return winner, estimates, standard_error


@pytest.mark.parametrize("seed, beta", [(70, 1.0), pytest.param(72, 2.0, marks=pytest.mark.slow)])
def test_winner_is_the_one_standard_error_choice_refitted(seed, beta):
    scores, labels = random_problem(seed, rows=ROWS, classes=CLASSES)
    key = jax.random.key(seed)
    result = jaxthresh.fit_auto(
        scores, labels, inner_folds=INNER_FOLDS, key=key, objective=objectives.fbeta(beta)
    )
    winner, estimates, standard_error = _one_standard_error_choice(
        scores, labels, key, INNER_FOLDS, "micro", beta
    )
    assert result.estimates.shape == (len(jaxthresh.CANDIDATES),)
    np.testing.assert_allclose(result.estimates, estimates, atol=1e-6)
    # The choice is not at the mercy of float32 rounding...
    cut = estimates.max() - standard_error
    assert np.min(np.abs(estimates - cut)) > 1e-5
    # ...and the rule matters here: it picks a more regularized candidate than the best.
    assert standard_error > 0 and winner < int(np.argmax(estimates))
    assert int(result.winner) == winner
    # No more regularized candidate (earlier in CANDIDATES) comes within one standard error.
    assert np.all(np.asarray(result.estimates[:winner]) < float(result.estimates[winner]))
    everything = Rows(scores, labels, np.ones(ROWS, bool))
    refits = _candidates(everything, objectives.fbeta(beta), average="micro")
    np.testing.assert_allclose(result.thresholds, refits[winner], atol=1e-6)


@pytest.mark.slow
def test_iterative_inner_folds():
    """``folds="iterative"``: the inner folds are those of iterative stratification (dealt
    by the traced loop inside the fit), and the choice is the rule's on them."""
    scores, labels = random_problem(71, rows=ROWS, classes=CLASSES)
    labels[:, 0] = np.arange(ROWS) % 300 == 0  # a rare class: 4 positives
    key = jax.random.key(71)
    result = jaxthresh.fit_auto(scores, labels, inner_folds=INNER_FOLDS, key=key, folds="iterative")
    ids = np.asarray(iterative_fold_ids(key, labels, INNER_FOLDS))
    assert sorted(np.bincount(ids[labels[:, 0]], minlength=INNER_FOLDS)) == [1, 1, 2]
    winner, estimates, _ = _one_standard_error_choice(
        scores, labels, key, INNER_FOLDS, "micro", 1.0, ids
    )
    np.testing.assert_allclose(result.estimates, estimates, atol=1e-6)
    assert int(result.winner) == winner
    with pytest.raises(ValueError, match="folds: must be one of random, iterative; got 'x'"):
        jaxthresh.fit_auto(scores, labels, folds="x")


@pytest.mark.slow  # ~9 s: compiles auto inside cross-validation (folds within folds)
def test_auto_inside_cross_validate():
    scores, labels = random_problem(52, rows=120, classes=3)
    result = jaxthresh.cross_validate(
        scores, labels, method="auto", n_folds=3, inner_folds=3, average="macro"
    )
    assert result.fits.winner.shape == (3,) and result.heldout_score.shape == (3,)
    assert result.fits.estimates.shape == (3, len(jaxthresh.CANDIDATES))
    ids = np.asarray(result.fold_ids)
    for fold in range(3):
        fitting = ids != fold
        assert int(result.fits.winner[fold]) in range(len(jaxthresh.CANDIDATES))
        predictions = scores[~fitting] > np.asarray(result.thresholds[fold])
        heldout = jaxthresh.f1_score(labels[~fitting], predictions, average="macro")
        assert float(result.heldout_score[fold]) == pytest.approx(heldout, abs=1e-6)


def test_eval_rows_never_reach_fit_auto(benchmark_dir):
    benchmark = paper.load_benchmark("dcase2019", benchmark_dir)
    rng = np.random.default_rng(0)
    scrambled = benchmark._replace(
        eval_scores=rng.random(benchmark.eval_scores.shape, np.float32),
        eval_labels=rng.random(benchmark.eval_labels.shape) < 0.5,
    )
    assert benchmark.valid_scores.shape == (ROWS, CLASSES)
    settings = {"inner_folds": INNER_FOLDS}
    first = paper.run_method(benchmark, "auto", settings)
    second = paper.run_method(scrambled, "auto", settings)
    np.testing.assert_array_equal(first.thresholds, second.thresholds)
    assert first.valid_f1 == second.valid_f1 and first.eval_f1 != second.eval_f1


def test_fit_auto_checks_its_inputs():
    scores, labels = random_problem(53, rows=4, classes=2)
    with pytest.raises(ValueError, match="inner_folds: 5 inner folds need at least 5"):
        jaxthresh.fit_auto(scores, labels)
    with pytest.raises(ValueError, match="average"):
        jaxthresh.fit_auto(scores, labels, inner_folds=2, average="samples")


def test_too_few_rows_for_inner_folds_through_every_entry_point():
    scores, labels = random_problem(54, rows=4, classes=2)
    with pytest.raises(ValueError, match="inner_folds: 5 inner folds need at least 5"):
        jaxthresh.fit("auto", scores, labels)
    with pytest.raises(ValueError, match="inner_folds: must be >= 2"):
        jaxthresh.fit("auto", scores, labels, inner_folds=1)
    # Two folds of 4 rows fit on 2 rows each: too few for 3 inner folds.
    with pytest.raises(ValueError, match="inner_folds: 3 inner folds need at least 3"):
        jaxthresh.cross_validate(scores, labels, "auto", n_folds=2, inner_folds=3)
    with pytest.raises(ValueError, match="inner_folds: 3 inner folds need at least 3"):
        jaxthresh.sweep(
            scores,
            labels,
            "auto",
            n_folds=2,
            inner_folds=3,
            objective=[objectives.fbeta(1.0), objectives.fbeta(2.0)],
        )


def test_shrunk_candidates_predict_nothing_for_a_class_without_positives():
    scores, labels = random_problem(55, rows=ROWS, classes=CLASSES)
    labels[:, 3] = False
    fitted = _candidates(
        Rows(scores, labels, np.ones(ROWS, bool)), objectives.get("f1"), average="micro"
    )
    for name, thresholds in zip(jaxthresh.CANDIDATES, np.asarray(fitted), strict=True):
        if name.startswith("shrunk") or name == "exact":
            assert not (scores[:, 3] > thresholds[3]).any(), name
