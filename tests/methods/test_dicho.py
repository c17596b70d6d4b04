import jax
import numpy as np
import pytest

import jaxthresh
from jaxthresh.core.validation import Rows
from jaxthresh.methods import configure
from tests.conftest import random_problem

# The fits below share this shape and these steps (keys are traced): the compiled fits
# are reused.
ROWS, CLASSES, STEPS = 90, 4, 20


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_seeded_monotone_and_better_than_a_grid(average):
    scores, labels = random_problem(1, rows=ROWS, classes=CLASSES)
    key = jax.random.key(0)
    first = jaxthresh.fit_dicho(scores, labels, key=key, steps=STEPS, average=average)
    again = jaxthresh.fit_dicho(scores, labels, key=key, steps=STEPS, average=average)
    other = jaxthresh.fit_dicho(scores, labels, key=jax.random.key(1), steps=STEPS, average=average)
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


@pytest.mark.slow  # what cross-validation runs: tests/test_selection.py compares its folds
def test_vmap_over_folds_agrees_with_single_fits():
    scores, labels = random_problem(2, rows=ROWS, classes=CLASSES)
    config = configure("dicho", CLASSES, key=jax.random.key(3), steps=STEPS)

    def fit(weights):
        return config.fit(Rows(scores, labels, weights))

    folds = np.stack([np.arange(ROWS) % 3 != f for f in range(3)])
    batched = jax.jit(jax.vmap(fit))(folds)
    for fold, weights in enumerate(folds):
        # The public fit is the jitted config.fit of one fold's rows.
        single = jaxthresh.fit_dicho(scores, labels, weights, key=jax.random.key(3), steps=STEPS)
        np.testing.assert_allclose(batched.thresholds[fold], single.thresholds, atol=1e-6)
        np.testing.assert_allclose(batched.history[fold], single.history, atol=1e-6)


def test_key_must_be_a_prng_key():
    scores, labels = random_problem(3, rows=ROWS, classes=CLASSES)
    with pytest.raises(ValueError, match=r"key: expected one jax\.random key"):
        jaxthresh.fit_dicho(scores, labels, key=0)
    with pytest.raises(ValueError, match="shrink: must be in"):
        jaxthresh.fit_dicho(scores, labels, key=jax.random.key(0), shrink=1.5)
    legacy = jaxthresh.fit_dicho(scores, labels, key=jax.random.PRNGKey(0), steps=STEPS)
    typed = jaxthresh.fit_dicho(scores, labels, key=jax.random.key(0), steps=STEPS)
    assert legacy.thresholds.shape == (CLASSES,)
    np.testing.assert_array_equal(legacy.thresholds, typed.thresholds)
