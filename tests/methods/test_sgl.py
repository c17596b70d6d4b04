import jax
import numpy as np
import pytest

import jaxthresh
from jaxthresh.core.validation import Rows
from jaxthresh.methods import configure
from tests.conftest import random_problem, slow_except

# Most tests fit this problem with these settings (values such as init, slope and
# learning_rate are traced, so they vary freely): the compiled fits are shared.
ROWS, CLASSES = 90, 4
SETTINGS = dict(init=0.4, epochs=40, learn_slope=True, average="micro")


def _problem():
    return random_problem(1, rows=ROWS, classes=CLASSES)


@pytest.mark.parametrize("kernel", slow_except([None, "generic"], [None]))
def test_vmap_over_folds_agrees_with_single_fits(kernel):
    scores, labels = _problem()
    folds = np.stack([np.arange(ROWS) % 3 != f for f in range(3)])

    def fit(weights):
        config = configure("sgl", CLASSES, kernel=kernel, **SETTINGS)
        return config.fit(Rows(scores, labels, weights))

    batched = jax.jit(jax.vmap(fit))(folds)
    for fold, weights in enumerate(folds):
        # The public fit is the jitted config.fit of one fold's rows.
        jitted = jaxthresh.fit_sgl(scores, labels, weights, kernel=kernel, **SETTINGS)
        subset = jaxthresh.fit_sgl(scores[weights], labels[weights], kernel=kernel, **SETTINGS)
        np.testing.assert_allclose(batched.thresholds[fold], jitted.thresholds, atol=1e-5)
        np.testing.assert_allclose(batched.slopes[fold], jitted.slopes, rtol=1e-5)
        np.testing.assert_allclose(batched.history[fold], jitted.history, atol=1e-6)
        np.testing.assert_allclose(subset.thresholds, jitted.thresholds, atol=1e-5)
        np.testing.assert_allclose(subset.history, jitted.history, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("kernel", [None, "generic"])
def test_the_unjitted_fit_equals_the_jitted_one(kernel):
    # Op by op, every primitive compiled on its own (~40-180 small compilations, the
    # cost of several fits), so slow; a few epochs of one fold.
    scores, labels = _problem()
    weights = np.arange(ROWS) % 3 != 0
    settings = {**SETTINGS, "epochs": 5, "kernel": kernel}
    jitted = jaxthresh.fit_sgl(scores, labels, weights, **settings)
    with jax.disable_jit():
        plain = configure("sgl", CLASSES, **settings).fit(Rows(scores, labels, weights))
    np.testing.assert_allclose(plain.thresholds, jitted.thresholds, atol=1e-5)
    np.testing.assert_allclose(plain.slopes, jitted.slopes, rtol=1e-5)
    np.testing.assert_allclose(plain.history, jitted.history, atol=1e-6)


def test_vmap_over_slopes_and_learning_rates_agrees_with_single_fits():
    scores, labels = _problem()
    rows = Rows(scores, labels, np.ones(ROWS, bool))
    slopes = np.array([5.0, 50.0, 200.0], np.float32)
    rates = np.array([1e-3, 1e-2, 3e-2], np.float32)

    def one(slope, rate):
        return configure("sgl", CLASSES, **{**SETTINGS, "slope": slope, "learning_rate": rate}).fit(
            rows
        )

    batched = jax.jit(jax.vmap(one))(slopes, rates)
    for i, (slope, rate) in enumerate(zip(slopes, rates, strict=True)):
        single = jaxthresh.fit_sgl(
            scores, labels, **{**SETTINGS, "slope": float(slope), "learning_rate": float(rate)}
        )
        np.testing.assert_allclose(batched.thresholds[i], single.thresholds, atol=1e-5)
        np.testing.assert_allclose(batched.slopes[i], single.slopes, rtol=1e-5)
    assert len({float(t) for t in batched.thresholds[:, 0]}) == 3  # the settings mattered


def test_history_is_the_score_of_the_thresholds_after_each_epoch():
    scores, labels = _problem()
    short = jaxthresh.fit_sgl(scores, labels, **{**SETTINGS, "init": 0.5, "epochs": 5})
    longer = jaxthresh.fit_sgl(scores, labels, **{**SETTINGS, "init": 0.5, "epochs": 6})
    assert short.history.shape == (5,)
    np.testing.assert_allclose(longer.history[:5], short.history)
    assert float(short.history[-1]) == pytest.approx(
        jaxthresh.f1_score(labels, jaxthresh.apply_thresholds(scores, short.thresholds)),
        abs=1e-6,
    )


def test_fixed_slope_stays_fixed_and_per_class_init_is_used():
    scores, labels = _problem()
    result = jaxthresh.fit_sgl(
        scores,
        labels,
        init=[0.2, 0.4, 0.6, 0.8],
        slope=[10.0, 20.0, 30.0, 40.0],
        learn_slope=False,
        epochs=1,
    )
    np.testing.assert_array_equal(result.slopes, [10.0, 20.0, 30.0, 40.0])
    # One Adam step moves each threshold by about the learning rate at most.
    np.testing.assert_allclose(result.thresholds, [0.2, 0.4, 0.6, 0.8], atol=1.1e-2)
    assert not np.array_equal(result.thresholds, np.float32([0.2, 0.4, 0.6, 0.8]))


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_sgl_improves_on_its_initial_thresholds(average):
    scores, labels = _problem()
    result = jaxthresh.fit_sgl(scores, labels, **{**SETTINGS, "init": 0.5, "average": average})
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
