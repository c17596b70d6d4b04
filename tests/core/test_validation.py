"""Every public entry point rejects bad input with a ValueError naming the argument."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh.core import validation
from jaxthresh.methods import configure
from tests.conftest import random_problem

SCORES, LABELS = random_problem(0, rows=6, classes=3)


def _with(index, value, array):
    array = np.array(array, dtype=float)
    array[index] = value
    return array


ENTRY_POINTS = {
    "fit_sgl": lambda s, y, w=None: jaxthresh.fit_sgl(s, y, w, init=0.5, epochs=2),
    "fit_default": lambda s, y, w=None: jaxthresh.fit_default(s, y, w),
    "cross_validate": lambda s, y, w=None: jaxthresh.cross_validate(
        s, y, sample_weight=w, init=0.5, epochs=2
    ),
    "fit": lambda s, y, w=None: jaxthresh.fit("default", s, y, w, threshold=0.5),
}

BAD_INPUTS = [
    (_with((1, 2), np.nan, SCORES), LABELS, "scores: 1 value.* NaN or infinite"),
    (_with((0, 0), np.inf, SCORES), LABELS, "scores: .*NaN or infinite"),
    (SCORES[:, 0], LABELS, "scores: expected a 2-D array"),
    (SCORES, LABELS[:5], r"labels: shape \(5, 3\) does not match scores shape \(6, 3\)"),
    (SCORES, LABELS[:, 0], "labels: expected a 2-D array"),
    (SCORES, _with((2, 1), 2, LABELS), "labels: values must be 0 or 1, found 2"),
    (SCORES, _with((0, 0), 0.5, LABELS), "labels: values must be 0 or 1"),
    (np.zeros((0, 3)), np.zeros((0, 3)), "scores: is empty"),
    (np.array([["a", "b"]]), np.ones((1, 2)), "scores: expected a numeric array"),
]

BAD_WEIGHTS = [
    (
        np.ones(5),
        r"sample_weight: expected shape \(6,\), one weight per row, or \(6, 3\), one per "
        r"label, got \(5,\)",
    ),
    (np.ones((6, 1)), r"sample_weight: expected shape \(6,\)"),
    (np.ones((6, 4)), r"sample_weight: expected shape .* got \(6, 4\)"),
    (
        _with((2, 1), -1.0, np.ones((6, 3))),
        r"must be finite and >= 0, found -1.0 at row 2, class 1",
    ),
    (_with(3, -1.0, np.ones(6)), r"sample_weight: must be finite and >= 0, found -1.0 at row 3"),
    (_with(1, np.nan, np.ones(6)), "sample_weight: must be finite and >= 0, found nan at row 1"),
    (_with(0, np.inf, np.ones(6)), "sample_weight: must be finite and >= 0, found inf"),
    (np.array(["a"] * 6), "sample_weight: expected a numeric array"),
    (np.ones(6) + 1j, "sample_weight: expected real numbers"),
]


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("scores, labels, message", BAD_INPUTS)
def test_bad_arrays(entry, scores, labels, message):
    with pytest.raises(ValueError, match=message):
        ENTRY_POINTS[entry](scores, labels)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("weights, message", BAD_WEIGHTS)
def test_bad_sample_weight(entry, weights, message):
    with pytest.raises(ValueError, match=message):
        ENTRY_POINTS[entry](SCORES, LABELS, weights)


def test_apply_thresholds_checks():
    with pytest.raises(ValueError, match=r"scores: .*NaN"):
        jaxthresh.apply_thresholds(_with((0, 0), np.nan, SCORES), 0.5)
    with pytest.raises(ValueError, match=r"thresholds: expected a scalar or one value per class"):
        jaxthresh.apply_thresholds(SCORES, [0.5, 0.5])
    with pytest.raises(ValueError, match="thresholds: must be finite"):
        jaxthresh.apply_thresholds(SCORES, np.nan)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_folds": 7}, "n_folds: 7 folds need at least 7 rows, got 6"),
        ({"n_folds": 1}, "n_folds: must be >= 2"),
        ({"n_folds": 2.5}, "n_folds: expected a whole number"),
        (
            {"method": "magic"},
            "method: unknown method 'magic'; known: default, dicho, numerical, sgl, exact, auto",
        ),
        ({"method": "default", "slope": 3.0}, "hyperparameters: method 'default' does not take"),
        ({"method": "sgl", "init": "x", "slope": 3.0}, "init: expected a real number"),
        ({"method": ["sgl"]}, "method: unknown method"),
        # Folds are shuffled with a jax.random key (fold_key=), no longer with seed=.
        ({"seed": 3}, "hyperparameters: method 'sgl' does not take seed"),
        ({"fold_key": 2**64}, "fold_key: expected one jax.random key"),
        ({"fold_key": "x"}, "fold_key: expected one jax.random key"),
        ({"fold_key": 3}, "fold_key: expected one jax.random key"),
        ({"fold_key": jax.random.split(jax.random.key(0))}, "fold_key: expected one jax.random"),
    ],
)
def test_cross_validate_checks(kwargs, message):
    kwargs = {"init": 0.5, **kwargs}
    if kwargs.get("method") == "default":
        del kwargs["init"]
    with pytest.raises(ValueError, match=message):
        jaxthresh.cross_validate(SCORES, LABELS, **kwargs)


def test_missing_init_starts_at_the_best_single_threshold():
    # init is optional now: None (or left out) is the best single threshold of the rows.
    rows = validation.as_rows(SCORES, LABELS)
    config = configure("sgl", 3)
    assert config.init is None
    init = jax.jit(lambda config, rows: config.resolved(rows).init)(config, rows)
    np.testing.assert_array_equal(init, jaxthresh.fit_default(SCORES, LABELS).thresholds)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"init": [0.5, 0.5]}, r"init: expected a scalar or one value per class \(3\)"),
        ({"init": 0.5, "slope": -1.0}, "slope: must be > 0"),
        ({"init": 0.5, "learning_rate": 0.0}, "learning_rate: must be finite and > 0"),
        ({"init": 0.5, "epochs": 0}, "epochs: must be >= 1"),
        ({"init": 0.5, "epochs": 1.5}, "epochs: expected a whole number"),
        ({"init": 0.5, "average": "samples"}, "average: must be one of micro, macro, weighted"),
        ({"init": 0.5, "objective": "f2"}, "objective: unknown name 'f2'; use one of f1"),
        ({"init": 0.5, "objective": 2.0}, "objective: expected a name or a jaxthresh.objectives"),
        ({"init": 0.5, "beta": 2.0}, "hyperparameters: method 'sgl' does not take beta"),
        ({"init": 1e39}, "init: must be finite as float32"),
        ({"init": 0.5 + 1j}, "init: expected a real number"),
        ({"init": 0.5, "learn_slope": "yes"}, "learn_slope: expected True or False"),
        ({"init": 0.5, "kernel": "gpu"}, "kernel: must be one of cpu, generic, autodiff"),
        ({"init": 0.5, "seed": 1}, "hyperparameters: method 'sgl' does not take seed"),
    ],
)
def test_fit_sgl_hyperparameter_checks(kwargs, message):
    with pytest.raises(ValueError, match=message):
        jaxthresh.fit_sgl(SCORES, LABELS, **kwargs)


def test_fit_default_checks():
    with pytest.raises(ValueError, match="threshold: must be finite"):
        jaxthresh.fit_default(SCORES, LABELS, threshold=float("inf"))
    with pytest.raises(ValueError, match="average"):
        jaxthresh.fit_default(SCORES, LABELS, average="samples")
    # The shared threshold is any real number, negative ones too.
    assert float(jaxthresh.fit_default(SCORES, LABELS, threshold=-0.5).threshold) == -0.5


def test_fit_checks_the_method_name():
    with pytest.raises(ValueError, match="method: unknown method 'magic'; known: default"):
        jaxthresh.fit("magic", SCORES, LABELS)


def test_boolean_and_integer_labels_are_accepted():
    as_int = jaxthresh.fit_default(SCORES, LABELS.astype(np.int64))
    as_float = jaxthresh.fit_default(SCORES, LABELS.astype(np.float32))
    as_bool = jaxthresh.fit_default(SCORES, LABELS)
    np.testing.assert_array_equal(as_int.thresholds, as_bool.thresholds)
    np.testing.assert_array_equal(as_float.thresholds, as_bool.thresholds)


def test_complex_and_float32_overflowing_scores_are_refused():
    with pytest.raises(ValueError, match="scores: expected real numbers"):
        jaxthresh.fit_default(SCORES + 1j, LABELS)
    with pytest.raises(ValueError, match=r"scores: 1 value.* infinite as float32"):
        jaxthresh.fit_default(_with((0, 0), 1e39, SCORES), LABELS)


def test_f1_score_zero_division_is_checked():
    for bad in (float("nan"), 5, "x", None):
        with pytest.raises(ValueError, match="zero_division: expected a number in"):
            jaxthresh.f1_score(LABELS, LABELS, zero_division=bad)


def test_f1_score_sample_weight_is_checked():
    with pytest.raises(ValueError, match=r"sample_weight: expected shape \(6,\)"):
        jaxthresh.f1_score(LABELS, LABELS, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="sample_weight: must be finite and >= 0"):
        jaxthresh.f1_score(LABELS, LABELS, sample_weight=_with(0, -2.0, np.ones(6)))


def test_as_rows_types_the_weights():
    assert validation.as_rows(SCORES, LABELS).weights.dtype == jnp.bool_
    for weights, dtype in (
        (np.ones(6, bool), jnp.bool_),
        (np.arange(6, dtype=np.int64), jnp.int32),
        (np.arange(6, dtype=np.uint8), jnp.int32),
        (np.linspace(0, 1, 6), jnp.float32),
    ):
        rows = validation.as_rows(SCORES, LABELS.astype(np.int64), weights)
        assert rows.scores.dtype == jnp.float32 and rows.labels.dtype == jnp.bool_
        assert rows.weights.dtype == dtype
        np.testing.assert_array_equal(rows.weights, np.asarray(weights).astype(dtype))


def test_values_are_checked_on_concrete_jax_arrays_and_not_under_tracing():
    bad = jnp.asarray(_with((4, 1), np.nan, SCORES), jnp.float32)
    with pytest.raises(ValueError, match=r"scores: 1 value.* NaN or infinite .*row 4, class 1"):
        validation.as_rows(bad, LABELS)
    with pytest.raises(ValueError, match="labels: values must be 0 or 1, found 2"):
        validation.as_rows(SCORES, jnp.asarray(_with((2, 1), 2, LABELS)))
    with pytest.raises(ValueError, match="sample_weight: must be finite and >= 0"):
        validation.as_rows(SCORES, LABELS, jnp.asarray(_with(3, -1.0, np.ones(6))))
    # Inside jit the values are unknown: only shapes and dtypes are checked.
    traced = jax.jit(lambda s, w: validation.as_rows(s, LABELS, w).scores)
    assert np.isnan(np.asarray(traced(bad, jnp.ones(6)))).any()
    with pytest.raises(ValueError, match="labels: shape"):
        jax.jit(lambda s: validation.as_rows(s, LABELS[:5]).scores)(bad)


def test_prng_key_takes_typed_and_legacy_keys():
    typed = validation.prng_key(jax.random.key(3))
    legacy = validation.prng_key(jax.random.PRNGKey(3))
    assert jax.dtypes.issubdtype(legacy.dtype, jax.dtypes.prng_key)
    np.testing.assert_array_equal(jax.random.key_data(typed), jax.random.key_data(legacy))


def test_as_rows_bounds_the_positive_rows_by_powers_of_two():
    labels = np.zeros((40, 3), bool)
    labels[:5, 0] = True  # 5 positives
    labels[:9, 1] = True  # 9 positives; class 2 has none
    weights = np.ones(40, np.int32)
    weights[0] = 0  # a row of weight 0 is not counted
    rows = validation.as_rows(np.random.default_rng(0).random((40, 3)), labels, weights)
    assert (rows.max_positives, rows.total_positives) == (8, 16)  # 8 and 12 rounded up
    assert (rows.positive_slots, rows.pooled_positive_slots) == (8, 16)
    # Unknown under tracing: every row (and every score) gets a slot.
    traced = jax.jit(
        lambda s, y: (
            validation.as_rows(s, y).positive_slots
            + 100 * validation.as_rows(s, y).pooled_positive_slots
        )
    )
    assert traced(np.zeros((4, 3), np.float32), np.ones((4, 3), bool)) == 4 + 100 * 12


@pytest.mark.parametrize("dtype", [np.float32, np.bool_])
def test_device_copy_is_a_copy_the_caller_cannot_change(dtype):
    """One copy, into a buffer only the result holds: writing to the caller's array
    afterwards changes nothing (JAX on CPU adopts aligned host buffers uncopied)."""
    array = np.ones((1000, 7), dtype)
    array = array[:, 1:]  # not contiguous, nor aligned
    copied = validation.device_copy(array)
    expected = array.copy()
    array[...] = 0
    assert copied.dtype == dtype
    np.testing.assert_array_equal(copied, expected)
    if jax.default_backend() == "cpu":
        assert copied.unsafe_buffer_pointer() % 64 == 0


_BAD = [
    *(
        (dtype, bad)
        for dtype in (np.float32, np.float64)
        for bad in (None, np.nan, np.inf, -np.inf, 1e39, -1e39)
    ),
    *((np.uint8, bad) for bad in (None, 2, 255)),
    *((np.int64, bad) for bad in (None, 2, -1)),
]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(_BAD))
def test_value_checks_find_every_bad_value(seed, case):
    """Blocks pass on their minimum and maximum alone only where every value is good:
    a NaN, an infinity, a float64 beyond float32, or a label outside {0, 1} is found,
    counted and located wherever it is."""
    dtype, bad = case
    rng = np.random.default_rng(seed)
    values = (rng.random((300, 4)) < 0.5).astype(dtype)
    places = rng.choice(values.size, size=rng.integers(1, 4), replace=False)
    if bad is not None:
        with np.errstate(over="ignore"):
            values.flat[places] = bad
    floating = np.issubdtype(dtype, np.floating)
    predicate = validation._not_finite if floating else validation._not_binary
    count, first = validation._bad_values(values, predicate)
    expected = 0 if bad is None else len(places)
    assert count == expected
    if expected:
        assert first == tuple(np.unravel_index(int(np.min(places)), values.shape))
