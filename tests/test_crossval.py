import jax
import numpy as np
import pytest

import jaxthresh
from jaxthresh import crossval
from tests.conftest import random_problem


def test_fold_ids_are_shuffled_and_balanced():
    ids = np.asarray(jaxthresh.fold_ids(jax.random.key(0), 10, 3))
    assert sorted(np.bincount(ids)) == [3, 3, 4]
    other = np.asarray(jaxthresh.fold_ids(jax.random.key(1), 10, 3))
    assert not np.array_equal(ids, other)


@pytest.mark.parametrize(
    "method, hyperparameters",
    [
        ("sgl", {"init": 0.4, "epochs": 30}),
        ("default", {}),
        ("default", {"average": "macro"}),
        ("sgl", {"init": 0.4, "epochs": 30, "average": "macro", "beta": 2.0}),
    ],
)
def test_each_fold_equals_a_fit_on_its_training_rows(method, hyperparameters):
    scores, labels = random_problem(7, rows=61, classes=4)  # folds of 21, 20, 20 rows
    result = jaxthresh.cross_validate(
        scores, labels, method=method, n_folds=3, seed=3, **hyperparameters
    )
    average = hyperparameters.get("average", "micro")
    beta = hyperparameters.get("beta", 1.0)
    ids = np.asarray(result.fold_ids)
    for fold in range(3):
        train, held = ids != fold, ids == fold
        single = jaxthresh.fit(method, scores[train], labels[train], **hyperparameters)
        np.testing.assert_allclose(result.thresholds[fold], single.thresholds, atol=1e-5)

        def f1(rows, thresholds):
            return jaxthresh.f1_score(
                labels[rows], scores[rows] > thresholds, average=average, beta=beta
            )

        assert float(result.fit_f1[fold]) == pytest.approx(f1(train, single.thresholds), abs=1e-5)
        assert float(result.heldout_f1[fold]) == pytest.approx(
            f1(held, single.thresholds), abs=1e-5
        )


def test_all_folds_compile_once():
    scores, labels = random_problem(8, rows=40, classes=3)
    before = crossval._cross_validate._cache_size()
    result = jaxthresh.cross_validate(scores, labels, n_folds=4, init=0.5, epochs=5)
    assert crossval._cross_validate._cache_size() == before + 1
    assert result.thresholds.shape == (4, 3)
    assert result.fits.history.shape == (4, 5)
    # Same shapes and settings, another seed: no new compilation.
    jaxthresh.cross_validate(scores, labels, n_folds=4, seed=9, init=0.5, epochs=5)
    assert crossval._cross_validate._cache_size() == before + 1


@pytest.fixture(scope="module")
def audioset_cv(benchmark_dir):
    """3-fold CV of every method on the AudioSet stand-in, with the paper's settings."""
    data = np.load(benchmark_dir / "audioset_eval_sim.npz")
    scores, labels = data["scores"], data["labels"]
    settings = {
        "default": {"threshold": 0.5},
        "sgl": {"init": 0.3},
        "numerical": {"init": 0.3},
        "dicho": {"key": jax.random.key(0)},
        "exact": {},
    }
    return {
        method: jaxthresh.cross_validate(scores, labels, method=method, **hyperparameters)
        for method, hyperparameters in settings.items()
    }


def test_audioset_sgl_beats_default_by_three_points(audioset_cv):
    sgl, default = audioset_cv["sgl"], audioset_cv["default"]
    assert sgl.heldout_f1.shape == (3,)
    assert 100 * (float(np.mean(sgl.heldout_f1)) - float(np.mean(default.heldout_f1))) >= 3.0


def test_audioset_exact_fit_score_is_the_highest_on_every_fold(audioset_cv):
    exact = np.asarray(audioset_cv["exact"].fit_f1)
    for method, result in audioset_cv.items():
        assert np.all(exact >= np.asarray(result.fit_f1) - 1e-6), method
