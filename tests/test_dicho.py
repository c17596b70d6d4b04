import jax
import numpy as np
import pytest

import jaxthresh
from jaxthresh.dicho import dicho_fit_weighted, dicho_hyperparameters
from tests.conftest import random_problem


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_seeded_monotone_and_better_than_a_grid(average):
    scores, labels = random_problem(1, rows=200, classes=6)
    key = jax.random.key(0)
    first = jaxthresh.fit_dicho(scores, labels, key=key, steps=40, average=average)
    again = jaxthresh.fit_dicho(scores, labels, key=key, steps=40, average=average)
    other = jaxthresh.fit_dicho(scores, labels, key=jax.random.key(1), steps=40, average=average)
    np.testing.assert_array_equal(first.thresholds, again.thresholds)
    assert not np.array_equal(first.thresholds, other.thresholds)
    # Only improvements are accepted.
    assert np.all(np.diff(np.asarray(first.history)) >= 0)
    reached = jaxthresh.f1_score(labels, scores > first.thresholds, average=average)
    assert float(first.history[-1]) == pytest.approx(reached, abs=1e-6)
    grid_best = max(
        jaxthresh.f1_score(labels, scores > t, average=average) for t in np.linspace(0, 1, 21)
    )
    assert reached >= grid_best


def test_vmap_over_folds_agrees_with_single_fits():
    scores, labels = random_problem(2, rows=90, classes=4)
    arrays, static = dicho_hyperparameters(4, key=jax.random.key(3), steps=20)
    folds = np.stack([np.arange(90) % 3 != f for f in range(3)]).astype(np.int32)
    batched = jax.vmap(lambda w: dicho_fit_weighted(scores, labels, w, **arrays, **static))(folds)
    for fold, weights in enumerate(folds):
        single = dicho_fit_weighted(scores, labels, weights, **arrays, **static)
        np.testing.assert_allclose(batched.thresholds[fold], single.thresholds, atol=1e-6)


def test_key_must_be_a_prng_key():
    scores, labels = random_problem(3, rows=10, classes=2)
    with pytest.raises(ValueError, match=r"key: expected one jax\.random key"):
        jaxthresh.fit_dicho(scores, labels, key=0)
    with pytest.raises(ValueError, match="shrink: must be in"):
        jaxthresh.fit_dicho(scores, labels, key=jax.random.key(0), shrink=1.5)
    legacy = jaxthresh.fit_dicho(scores, labels, key=jax.random.PRNGKey(0), steps=3)
    assert legacy.thresholds.shape == (2,)
