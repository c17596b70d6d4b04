import jax
import numpy as np
import pytest

import jaxthresh
from jaxthresh.sgl import sgl_fit_weighted, sgl_hyperparameters
from tests.conftest import random_problem

SETTINGS = dict(epochs=40, learn_slope=True, average="micro")


def _arrays(classes, **kwargs):
    arrays, _ = sgl_hyperparameters(classes, init=0.4, epochs=40, **kwargs)
    return arrays


def test_plain_jit_and_vmap_over_folds_agree():
    scores, labels = random_problem(1, rows=90, classes=4)
    arrays = _arrays(4)
    folds = np.stack([np.arange(90) % 3 != f for f in range(3)]).astype(np.int32)
    batched = jax.vmap(lambda w: sgl_fit_weighted(scores, labels, w, **arrays, **SETTINGS))(folds)
    for fold, weights in enumerate(folds):
        jitted = sgl_fit_weighted(scores, labels, weights, **arrays, **SETTINGS)
        with jax.disable_jit():
            plain = sgl_fit_weighted(scores, labels, weights, **arrays, **SETTINGS)
        np.testing.assert_allclose(jitted.thresholds, plain.thresholds, atol=1e-5)
        np.testing.assert_allclose(batched.thresholds[fold], jitted.thresholds, atol=1e-5)
        np.testing.assert_allclose(batched.history[fold], jitted.history, atol=1e-6)


def test_vmap_over_slopes_and_learning_rates_agrees_with_single_fits():
    scores, labels = random_problem(2, rows=80, classes=3)
    weights = np.ones(80, np.int32)
    arrays = _arrays(3)
    slopes = np.array([5.0, 50.0, 200.0], np.float32)
    rates = np.array([1e-3, 1e-2, 3e-2], np.float32)

    def one(slope, rate):
        settings = dict(arrays, slope=np.full(3, 1.0, np.float32) * slope, learning_rate=rate)
        return sgl_fit_weighted(scores, labels, weights, **settings, **SETTINGS)

    batched = jax.vmap(one)(slopes, rates)
    for i, (slope, rate) in enumerate(zip(slopes, rates, strict=True)):
        single = jaxthresh.fit_sgl(
            scores, labels, init=0.4, slope=float(slope), learning_rate=float(rate), epochs=40
        )
        np.testing.assert_allclose(batched.thresholds[i], single.thresholds, atol=1e-5)
        np.testing.assert_allclose(batched.slopes[i], single.slopes, rtol=1e-5)


def test_history_is_the_score_of_the_thresholds_after_each_epoch():
    scores, labels = random_problem(4, rows=100, classes=4)
    short = jaxthresh.fit_sgl(scores, labels, init=0.5, epochs=7)
    longer = jaxthresh.fit_sgl(scores, labels, init=0.5, epochs=8)
    assert short.history.shape == (7,)
    np.testing.assert_allclose(longer.history[:7], short.history)
    assert float(short.history[-1]) == pytest.approx(
        jaxthresh.f1_score(labels, jaxthresh.apply_thresholds(scores, short.thresholds)),
        abs=1e-6,
    )


def test_fixed_slope_stays_fixed_and_per_class_init_is_used():
    scores, labels = random_problem(5, rows=50, classes=3)
    result = jaxthresh.fit_sgl(
        scores,
        labels,
        init=[0.2, 0.5, 0.8],
        slope=[10.0, 20.0, 30.0],
        learn_slope=False,
        epochs=1,
    )
    np.testing.assert_array_equal(result.slopes, [10.0, 20.0, 30.0])
    # One Adam step moves each threshold by about the learning rate at most.
    np.testing.assert_allclose(result.thresholds, [0.2, 0.5, 0.8], atol=1.1e-2)


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_sgl_improves_on_its_initial_thresholds(average):
    scores, labels = random_problem(6, rows=300, classes=6)
    result = jaxthresh.fit_sgl(scores, labels, init=0.5, average=average)
    before = jaxthresh.f1_score(labels, scores > 0.5, average=average)
    assert float(result.history[-1]) > before


@pytest.mark.parametrize(
    "name, init, expected_eval, expected_valid",
    [("dcase2017", 0.3, 62.0, 61.8), ("dcase2019", 0.5, 73.0, 72.9)],
)
def test_reproduces_the_paper(benchmark_dir, name, init, expected_eval, expected_valid):
    data = np.load(benchmark_dir / f"{name}.npz")
    result = jaxthresh.fit_sgl(data["valid_scores"], data["valid_labels"], init=init)
    predictions = jaxthresh.apply_thresholds(data["eval_scores"], result.thresholds)
    assert 100 * jaxthresh.f1_score(data["eval_labels"], predictions) == pytest.approx(
        expected_eval, abs=0.2
    )
    assert 100 * float(result.history[-1]) == pytest.approx(expected_valid, abs=0.2)
