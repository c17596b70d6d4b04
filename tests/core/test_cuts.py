import functools

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh.core import cuts
from jaxthresh.core.cuts import (
    SENTINEL,
    above_all,
    candidates,
    counts_above,
    descending_keys,
    from_order_keys,
    highest_of,
    kept_candidates,
    lowest_of,
    order_keys,
    sort_kept_and_positive,
    sort_with,
    sorted_keys,
    threshold_between,
)
from tests.conftest import padded_problem, random_problem

MAX_VALUES = 30
MAX_ROWS = 16


# Compiled once for every example (problems are padded to MAX_ROWS rows).
@jax.jit
def _cuts_of_sorted_keys(scores, labels, weights):
    return candidates(sorted_keys(scores, labels, weights, slots=MAX_ROWS))


_kept_candidates = jax.jit(
    functools.partial(kept_candidates, slots=MAX_ROWS), static_argnames="variant"
)


_descending_keys = jax.jit(descending_keys)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        min_size=2,
        max_size=MAX_VALUES,
    )
)
def test_keys_order_like_exact_comparisons(values):
    """Under jit, with -0.0 and subnormals (which XLA on CPU compares as zero): keys
    order the values as NumPy compares them, and invert exactly."""
    # Repeating the values up to one length keeps every pair and compiles once.
    scores = np.resize(np.asarray(values, np.float32), MAX_VALUES)
    keys = np.asarray(_descending_keys(scores))
    np.testing.assert_array_equal(keys[:, None] < keys[None, :], scores[:, None] > scores[None, :])
    np.testing.assert_array_equal(
        keys[:, None] == keys[None, :], scores[:, None] == scores[None, :]
    )
    back = np.asarray(jax.jit(from_order_keys)(-keys))
    np.testing.assert_array_equal(back, scores)  # -0.0 comes back as 0.0, which is equal
    assert np.all(back.view(np.int32)[scores == 0] == 0)


def test_neighbouring_keys_are_neighbouring_floats():
    values = np.array([-1e-45, 0.0, 1e-45, -1.0, 1.0, 3e-39], np.float32)
    keys = np.asarray(order_keys(values))
    for value, key in zip(values, keys, strict=True):
        above, below = np.asarray(from_order_keys(np.array([key + 1, key - 1], np.int32)))
        assert above == np.nextafter(value, np.float32(np.inf))
        assert below == np.nextafter(value, np.float32(-np.inf))


@functools.partial(jax.jit, static_argnames="variant")
def _counts_above(scores, labels, weights, thresholds, variant=None):
    sorted = sorted_keys(scores, labels, weights, slots=scores.shape[0], variant=variant)
    return counts_above(sorted, thresholds)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, MAX_ROWS),
    st.sampled_from([1, 4]),
    st.booleans(),
    st.sampled_from(["bool", "int", "float"]),
)
def test_counts_above_equal_confusion_counts(seed, rows, classes, ties, kind):
    # Padding rows (weight 0, random scores) keep one compilation per number of classes;
    # columns are independent, so one class and four cover every case.
    scores, labels, kept, _ = padded_problem(seed, rows, classes, max_rows=MAX_ROWS, ties=ties)
    rng = np.random.default_rng(seed)
    weights = {
        "bool": kept & (rng.random(MAX_ROWS) < 0.8),
        "int": (rng.integers(0, 3, MAX_ROWS) * kept).astype(np.int32),
        "float": (rng.integers(0, 3, MAX_ROWS) * kept / 4).astype(np.float32),
    }[kind]
    # Thresholds at, between, above and below the scores.
    choices = np.concatenate([scores.ravel(), scores.ravel() + 0.01, [-5.0, 5.0]])
    for _ in range(5):
        thresholds = rng.choice(choices, classes).astype(np.float32)
        expected = jaxthresh.confusion_counts(labels, scores > thresholds, weights)
        for variant in ("cpu", "generic"):
            got = _counts_above(scores, labels, weights, thresholds, variant)
            for a, b in zip(got, expected, strict=True):
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, MAX_ROWS), st.booleans())
def test_candidates_are_the_cuts_below_positive_scores(seed, rows, ties):
    scores, labels, kept, _ = padded_problem(seed, rows, 3, max_rows=MAX_ROWS, ties=ties)
    weights = (np.random.default_rng(seed).integers(0, 3, MAX_ROWS) * kept).astype(np.int32)
    cuts = _cuts_of_sorted_keys(scores, labels, weights)
    for c in range(3):
        kept_scores = scores[weights > 0, c]
        positive = np.unique(scores[(weights > 0) & labels[:, c], c])[::-1]
        valid = np.asarray(cuts.valid[c])
        np.testing.assert_array_equal(np.asarray(cuts.upper[c])[valid], positive)
        for j in np.flatnonzero(valid):
            upper, lower = float(cuts.upper[c, j]), float(cuts.lower[c, j])
            below = kept_scores[kept_scores < upper]
            assert lower == (below.max() if len(below) else -np.inf)
            predicted = scores[:, c] >= upper
            assert int(cuts.predicted[c, j]) == int(weights @ predicted)
            assert int(cuts.true_positives[c, j]) == int(weights @ (predicted & labels[:, c]))
        assert float(cuts.highest[c]) == (kept_scores.max() if len(kept_scores) else -np.inf)
        assert int(cuts.positives[c]) == int(weights @ labels[:, c])


def test_sort_kept_and_positive_on_both_backends():
    rng = np.random.default_rng(3)
    keys = rng.integers(-(2**31), 2**31 - 1, (5, 50), dtype=np.int32)
    keys[:, ::7] = keys[:, :1]  # ties
    keys[:, -3:] = SENTINEL  # left out
    positive = rng.random((5, 50)) < 0.3
    positive[:, -3:] = False
    positive[2] = False  # a row without positives
    expected_positive = np.sort(np.where(positive, keys, SENTINEL))[:, :16]
    sort = jax.jit(sort_kept_and_positive, static_argnums=(2, 3))
    for variant in ("cpu", "generic"):
        everyone, positive_keys = sort(keys, positive, 16, variant)
        np.testing.assert_array_equal(everyone, np.sort(keys))
        np.testing.assert_array_equal(positive_keys, expected_positive)
    # On CPU the sorts are NumPy's, in one callback; lowered for a GPU they are XLA's.
    traced = jax.jit(sort_kept_and_positive, static_argnums=2).trace(keys, positive, 16)
    lowered = traced.lower().as_text()
    assert lowered.count("callback") >= 1 and " sort" not in lowered.replace("custom_call", "")
    for_gpu = traced.lower(lowering_platforms=("cuda",)).as_text()
    assert "callback" not in for_gpu and "sort" in for_gpu


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, MAX_ROWS), st.booleans())
def test_kept_candidates_are_those_of_the_sorted_keys(seed, rows, ties):
    """The lean cuts of rows of weight 0 or 1 equal :func:`candidates` of their sorted keys,
    on both backends' variants."""
    scores, labels, kept, _ = padded_problem(seed, rows, 3, max_rows=MAX_ROWS, ties=ties)
    expected = jax.jit(lambda *a: candidates(sorted_keys(*a, slots=MAX_ROWS)))(scores, labels, kept)
    for variant in ("cpu", "generic"):
        cuts = jax.jit(functools.partial(kept_candidates, slots=MAX_ROWS, variant=variant))(
            scores, labels, kept
        )
        for name, field, other in zip(cuts._fields, cuts, expected, strict=True):
            if name in ("upper", "lower", "true_positives", "predicted"):  # where valid
                field, other = np.asarray(field)[expected.valid], np.asarray(other)[expected.valid]
            np.testing.assert_array_equal(field, other, err_msg=f"{variant} {name}")


def test_kept_candidates_on_cpu_search_no_padded_slot():
    """On CPU the sorted keys of every row stay in the callback, which searches for the
    real positives only: the program's one loop is over column blocks (``searchsorted``
    adds a scan over ``[classes, M]`` slots, as on other backends)."""

    def jaxpr(variant, rows, columns):
        cuts = functools.partial(kept_candidates, slots=8, variant=variant)
        shapes = [
            jax.ShapeDtypeStruct((rows, columns), jnp.float32),
            jax.ShapeDtypeStruct((rows, columns), jnp.bool_),
            jax.ShapeDtypeStruct((rows,), jnp.bool_),
        ]
        text = str(jax.make_jaxpr(cuts)(*shapes))
        return text.count("scan["), text.count("pure_callback")

    assert jaxpr("cpu", 64, 3) == (1, 1)  # one block
    assert jaxpr("generic", 64, 3) == (2, 0)
    assert jaxpr("cpu", 4096, 1024) == (1, 1)  # 4 M keys: blocks of about 2 M
    assert jaxpr("generic", 4096, 1024) == (2, 0)


def test_left_out_rows_sort_last_as_the_sentinel():
    scores = np.array([[0.2], [0.9], [0.5]], np.float32)
    labels = np.array([[True], [False], [True]])
    sorted = sorted_keys(scores, labels, np.array([True, False, True]), slots=3)
    assert list(np.asarray(sorted.keys[0])[-1:]) == [SENTINEL]
    np.testing.assert_array_equal(from_order_keys(-sorted.keys[0, :2]), np.float32([0.5, 0.2]))
    assert list(np.asarray(sorted.positive_keys[0])[-1:]) == [SENTINEL]


def test_threshold_between_separates():
    upper = np.array([0.5, 1.0, np.nextafter(np.float32(0.2), np.float32(1))], np.float32)
    lower = np.array([0.25, -np.inf, 0.2], np.float32)
    t = np.asarray(threshold_between(jnp.asarray(upper), jnp.asarray(lower)))
    assert np.all(upper > t) and np.all(t >= lower)


def test_above_all_predicts_nothing():
    highest = jnp.array([0.5, -3.0, 1e30], jnp.float32)
    nothing = np.asarray(above_all(highest))
    assert np.all(nothing > np.asarray(highest))
    assert np.all(np.isfinite(nothing))


def test_counts_of_bool_and_float_weights_are_in_their_dtype():
    scores, labels = random_problem(6, rows=20, classes=2, ties=True)
    thresholds = np.array([0.4, 0.6], np.float32)
    kept = np.arange(20) % 3 > 0
    fractions = (np.arange(20) % 3).astype(np.float32) / 4
    for weights, dtype in ((kept, jnp.int32), (fractions, jnp.float32)):
        counts = _counts_above(scores, labels, weights, thresholds)
        expected = jaxthresh.confusion_counts(labels, scores > thresholds, weights)
        for a, b in zip(counts, expected, strict=True):
            assert a.dtype == dtype
            np.testing.assert_array_equal(a, b)


# Values where XLA on CPU's float max is exact (normal, infinite) and where it is not.
_EXTREMES = np.array(
    [0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-40, 1.1754944e-38, -1.0, 1.0, np.inf, -np.inf],
    np.float32,
)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.booleans())
def test_highest_and_lowest_are_exact_with_subnormals(seed, rows, masked):
    """The float max/min where it is exact, the order keys where a maximum is zero or
    subnormal: the same bits as NumPy, which compares subnormals exactly."""
    rng = np.random.default_rng(seed)
    values = rng.choice(_EXTREMES, (rows, 3))
    where = rng.random((rows, 3)) < 0.7 if masked else None
    extremes = jax.jit(lambda v, w: (highest_of(v, 0, w), lowest_of(v, 0, w)), static_argnums=())
    high, low = extremes(values, where)
    kept_high = np.where(where, values, -np.inf) if masked else values
    kept_low = np.where(where, values, np.inf) if masked else values
    for got, expected in ((high, kept_high.max(axis=0)), (low, kept_low.min(axis=0))):
        expected = expected + np.float32(0.0)  # -0.0 and 0.0 share a key: 0.0
        np.testing.assert_array_equal(np.asarray(got).view(np.int32), expected.view(np.int32))


def test_highest_of_takes_order_keys_only_when_a_maximum_is_not_normal():
    """A ``cond`` whose exact branch, on integer keys, runs only where needed."""
    jaxpr = str(jax.make_jaxpr(lambda v: highest_of(v, 0))(np.ones((4, 3), np.float32)))
    assert "cond[" in jaxpr and "reduce_max" in jaxpr
    normal = np.array([[0.5, -2.0], [0.25, -3.0]], np.float32)
    np.testing.assert_array_equal(jax.jit(lambda v: highest_of(v, 0))(normal), [0.5, -2.0])


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 40))
def test_sort_with_carries_its_payloads_on_both_backends(seed, width):
    rng = np.random.default_rng(seed)
    keys = rng.integers(-5, 5, (3, width)).astype(np.int32)
    payload = np.broadcast_to(np.arange(width, dtype=np.int32), keys.shape)  # positions
    sort = jax.jit(sort_with, static_argnums=2)
    for variant in ("cpu", "generic"):
        sorted_keys_, positions = sort(keys, (payload,), variant)
        np.testing.assert_array_equal(sorted_keys_, np.sort(keys, axis=1))
        # Each payload stays with its key (equal keys may come in any order).
        np.testing.assert_array_equal(np.sort(positions, axis=1), payload)
        np.testing.assert_array_equal(
            np.take_along_axis(keys, np.asarray(positions), 1), sorted_keys_
        )
    traced = jax.jit(sort_with).trace(keys, (payload,))
    assert "callback" in traced.lower(lowering_platforms=("cpu",)).as_text()
    assert "stablehlo.sort" in traced.lower(lowering_platforms=("cuda",)).as_text()


def test_column_blocks_give_the_results_of_one_block(monkeypatch):
    """Blocks sliced and transposed inside the loop, the last one overlapping the one
    before: every field is that of one block of all columns, for both variants and for
    bool and int weights."""
    scores, labels = random_problem(4, rows=30, classes=7, ties=True)
    kept = np.arange(30) % 4 != 0
    counted = np.where(kept, np.arange(30) % 3 + 1, 0).astype(np.int32)

    def everything():
        return {
            variant: (
                kept_candidates(scores, labels, kept, slots=30, variant=variant),
                sorted_keys(scores, labels, kept, slots=30, variant=variant),
                sorted_keys(scores, labels, counted, slots=30, variant=variant),
            )
            for variant in ("cpu", "generic")
        }

    assert cuts.class_blocks(7, 30) == (1, 7)
    whole = everything()
    monkeypatch.setattr(cuts, "BLOCK_KEYS", 60)
    assert cuts.class_blocks(7, 30) == (4, 2)  # starts 0, 2, 4 and 5: column 5 twice
    blocked = everything()
    for got, expected in zip(jax.tree.leaves(blocked), jax.tree.leaves(whole), strict=True):
        np.testing.assert_array_equal(got, expected)
