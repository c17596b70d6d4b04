"""The bootstrap: every resample a row weight, fitted in one compiled call."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import f1_score, jaccard_score

import jaxthresh
from jaxthresh import resampling
from jaxthresh.core.diagnostics import FitWarning
from tests.conftest import random_problem

SCORES, LABELS = random_problem(11, rows=80, classes=4)
FAST = {"sgl": {"epochs": 5}, "exact": {}}


def _refit(method, scores, labels, weights, **hyperparameters):
    with warnings.catch_warnings():  # a resample may leave a class without positives
        warnings.simplefilter("ignore", FitWarning)
        result = jaxthresh.fit(method, scores, labels, weights, **hyperparameters)
    return np.asarray(result.thresholds)


@pytest.mark.parametrize("method", ["exact", "sgl"])
def test_a_resample_refitted_from_its_weights_gives_its_thresholds(method):
    scores, labels = SCORES, LABELS
    result = jaxthresh.bootstrap(scores, labels, method, n_resamples=5, **FAST[method])
    assert result.thresholds.shape == (5, 4)
    assert result.sample_weight.shape == (5, len(scores))
    assert result.sample_weight.dtype == jnp.int32
    for i in range(3):
        weights = np.asarray(result.sample_weight[i])
        assert weights.sum() == len(scores)
        refitted = _refit(method, scores, labels, weights, **FAST[method])
        np.testing.assert_array_equal(refitted, np.asarray(result.thresholds[i]))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["exact", "sgl"])
def test_resamples_of_dcase_refitted_give_their_thresholds(benchmark_dir, method):
    data = np.load(benchmark_dir / "dcase2017.npz")
    scores, labels = data["valid_scores"], data["valid_labels"]
    result = jaxthresh.bootstrap(scores, labels, method, n_resamples=4, **FAST[method])
    for i in range(3):
        refitted = _refit(
            method, scores, labels, np.asarray(result.sample_weight[i]), **FAST[method]
        )
        np.testing.assert_array_equal(refitted, np.asarray(result.thresholds[i]))


def test_the_resamples_differ_and_the_thresholds_move():
    result = jaxthresh.bootstrap(SCORES, LABELS, "exact", n_resamples=5)
    weights = np.asarray(result.sample_weight)
    assert len({w.tobytes() for w in weights}) == 5
    assert np.all(np.ptp(np.asarray(result.thresholds), axis=0) > 0)


def test_scores_equal_f1_by_hand_on_the_drawn_and_the_left_out_rows():
    result = jaxthresh.bootstrap(SCORES, LABELS, "exact", n_resamples=5)
    for i in range(5):
        weights = np.asarray(result.sample_weight[i])
        predicted = SCORES > np.asarray(result.thresholds[i])
        out = weights == 0
        oob = f1_score(LABELS[out], predicted[out], average="micro")
        fit = f1_score(LABELS, predicted, average="micro", sample_weight=weights)
        np.testing.assert_allclose(result.oob_score[i], oob, rtol=1e-6)
        np.testing.assert_allclose(result.fit_score[i], fit, rtol=1e-6)


def test_the_method_objective_scores_the_resamples():
    result = jaxthresh.bootstrap(
        SCORES, LABELS, "exact", n_resamples=3, objective="jaccard", average="macro"
    )
    for i in range(3):
        out = np.asarray(result.sample_weight[i]) == 0
        predicted = SCORES > np.asarray(result.thresholds[i])
        expected = jaccard_score(LABELS[out], predicted[out], average="macro", zero_division=1)
        np.testing.assert_allclose(result.oob_score[i], expected, rtol=1e-6)


def test_intervals_and_bagging_are_numpy_percentiles_and_medians():
    result = jaxthresh.bootstrap(SCORES, LABELS, "exact", n_resamples=5)
    thresholds = np.asarray(result.thresholds)
    for level in (0.95, 0.5):
        low, high = result.interval(level)
        expected = np.percentile(thresholds, [50 * (1 - level), 50 * (1 + level)], axis=0)
        np.testing.assert_allclose(low, expected[0], rtol=1e-6)
        np.testing.assert_allclose(high, expected[1], rtol=1e-6)
    oob = np.asarray(result.oob_score)
    np.testing.assert_allclose(result.score_interval(0.9), np.percentile(oob, [5, 95]), rtol=1e-6)
    np.testing.assert_allclose(result.bagged(), np.median(thresholds, axis=0), rtol=1e-6)


def test_a_resample_that_leaves_nothing_out_has_no_oob_score():
    scores, labels = SCORES[:2], LABELS[:2]
    result = jaxthresh.bootstrap(scores, labels, "default", n_resamples=8)
    full = np.asarray(result.sample_weight).min(axis=1) > 0  # both rows drawn
    assert full.any() and not full.all()
    assert np.all(np.isnan(np.asarray(result.oob_score)[full]))
    assert not np.any(np.isnan(np.asarray(result.oob_score)[~full]))
    low, high = result.score_interval()
    assert np.isfinite(low) and np.isfinite(high)


def test_rows_of_weight_zero_are_never_drawn_and_weights_scale_the_draws():
    weights = np.arange(80) % 4  # a quarter of the rows weigh 0
    result = jaxthresh.bootstrap(SCORES, LABELS, "exact", weights, n_resamples=4)
    drawn = np.asarray(result.sample_weight)
    assert np.all(drawn[:, weights == 0] == 0)
    assert np.all(drawn.sum(axis=1) == np.count_nonzero(weights))
    refitted = _refit("exact", SCORES, LABELS, drawn[1] * weights)
    np.testing.assert_array_equal(refitted, np.asarray(result.thresholds[1]))
    out = (drawn[1] == 0) & (weights > 0)
    predicted = SCORES > np.asarray(result.thresholds[1])
    expected = f1_score(LABELS[out], predicted[out], average="micro", sample_weight=weights[out])
    np.testing.assert_allclose(result.oob_score[1], expected, rtol=1e-6)


def test_resample_i_does_not_depend_on_how_many_are_drawn():
    kept = jnp.ones(50, bool)
    key = jax.random.key(3)
    few = resampling.multiplicities(key, kept, 2)
    many = resampling.multiplicities(key, kept, 5)
    np.testing.assert_array_equal(few, many[:2])
    other = resampling.multiplicities(jax.random.key(4), kept, 2)
    assert not np.array_equal(few, other)


@jax.jit
def _bootstrapped_thresholds(scores, labels, key):
    return jaxthresh.bootstrap(scores, labels, "exact", n_resamples=5, key=key).thresholds


def test_inside_jit_it_equals_the_plain_call():
    plain = jaxthresh.bootstrap(SCORES, LABELS, "exact", n_resamples=5, key=jax.random.key(1))
    jitted = _bootstrapped_thresholds(SCORES, LABELS, jax.random.key(1))
    np.testing.assert_array_equal(jitted, plain.thresholds)


@pytest.mark.slow
def test_vmap_over_keys_equals_each_key():
    keys = jnp.stack([jax.random.key(1), jax.random.key(2)])
    mapped = jax.vmap(_bootstrapped_thresholds, in_axes=(None, None, 0))(SCORES, LABELS, keys)
    for key, thresholds in zip((1, 2), mapped, strict=True):
        plain = jaxthresh.bootstrap(SCORES, LABELS, "exact", n_resamples=5, key=jax.random.key(key))
        np.testing.assert_array_equal(thresholds, plain.thresholds)


def test_no_resample_holds_a_copy_of_the_scores():
    """Resamples run in a loop over one shared copy of the scores: no value of the
    compiled program is as large as one copy per resample (on accelerators, resamples are
    batched :data:`resampling.CHUNK` at a time)."""
    n_resamples = 2 * resampling.CHUNK + 1
    rows = jaxthresh.core.validation.as_rows(SCORES, LABELS)
    config = jaxthresh.methods.configure("sgl", 4, 80, epochs=2)
    jaxpr = jax.make_jaxpr(
        lambda config, rows, key: resampling._fit_resamples(
            config, rows, resampling.multiplicities(key, rows.weights, n_resamples), False
        )
    )(config, rows, jax.random.key(0))

    def sizes(jaxpr):
        for eqn in jaxpr.eqns:
            for var in eqn.outvars:
                yield int(np.prod(getattr(var.aval, "shape", ())))
            for param in eqn.params.values():
                for value in param if isinstance(param, tuple | list) else [param]:
                    inner = getattr(value, "jaxpr", None)
                    if inner is not None and hasattr(inner, "eqns"):
                        yield from sizes(inner)

    assert max(sizes(jaxpr.jaxpr)) < n_resamples * SCORES.size


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_resamples": 1}, "n_resamples: "),
        ({"n_resamples": 2.5}, "n_resamples: "),
        ({"method": "best"}, "method: unknown method 'best'"),
        ({"key": 3}, "key: expected one jax.random key"),
        ({"sample_weight": np.eye(80)[0]}, "sample_weight: fewer than 2 rows"),
        ({"epochs": 2}, "hyperparameters: method 'exact' does not take epochs"),
    ],
)
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        jaxthresh.bootstrap(SCORES, LABELS, **arguments)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, True, "0.9"])
def test_a_level_outside_0_1_is_named(level):
    result = jaxthresh.bootstrap(SCORES, LABELS, "exact", n_resamples=5)
    with pytest.raises(ValueError, match="level: "):
        result.interval(level)
    with pytest.raises(ValueError, match="level: "):
        result.score_interval(level)


def test_resampled_int_weights_too_heavy_for_the_counts_are_refused():
    weights = np.ones(80, np.int64)
    weights[0] = 2**28  # accepted once (2**30 over 4 classes), not drawn twice
    with pytest.raises(ValueError, match="sample_weight: a bootstrap resample's weights"):
        jaxthresh.bootstrap(SCORES, LABELS, "exact", weights, n_resamples=20)


@pytest.mark.slow
@pytest.mark.parametrize("method", list(jaxthresh.METHODS))
def test_every_method_bootstraps_and_refits(method):
    hyperparameters = {
        "sgl": {"epochs": 5},
        "numerical": {"epochs": 3},
        "constrained": {"min_precision": 0.5},
    }.get(method, {})
    result = jaxthresh.bootstrap(SCORES, LABELS, method, n_resamples=3, **hyperparameters)
    refitted = _refit(
        method, SCORES, LABELS, np.asarray(result.sample_weight[2]), **hyperparameters
    )
    np.testing.assert_array_equal(refitted, np.asarray(result.thresholds[2]))
