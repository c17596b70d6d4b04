import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxthresh.core import folds, validation


@pytest.mark.parametrize("n_rows, n_folds", [(10, 3), (7, 7), (60, 4), (5, 1)])
def test_fold_ids_are_balanced(n_rows, n_folds):
    ids = folds.fold_ids(jax.random.key(0), n_rows, n_folds)
    assert ids.shape == (n_rows,) and ids.dtype == jnp.int32
    sizes = np.bincount(np.asarray(ids), minlength=n_folds)
    assert len(sizes) == n_folds
    assert sizes.max() - sizes.min() <= 1
    assert sizes.max() == folds.largest_fold(n_rows, n_folds)


def test_fold_ids_are_shuffled_by_the_key():
    n_rows, n_folds = 60, 3
    first = np.asarray(folds.fold_ids(jax.random.key(0), n_rows, n_folds))
    again = np.asarray(folds.fold_ids(jax.random.key(0), n_rows, n_folds))
    other = np.asarray(folds.fold_ids(jax.random.key(1), n_rows, n_folds))
    np.testing.assert_array_equal(first, again)  # deterministic for a key
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, np.arange(n_rows) % n_folds)  # not dealt in order
    assert not np.all(np.diff(first) >= 0)  # not in blocks either


def test_fold_ids_need_a_fold():
    with pytest.raises(ValueError, match="n_folds: must be >= 1"):
        folds.fold_ids(jax.random.key(0), 5, 0)


def test_fitting_masks_leave_each_row_out_once():
    ids = folds.fold_ids(jax.random.key(2), 11, 3)
    masks = np.asarray(folds.fitting_masks(ids, 3))
    assert masks.shape == (3, 11) and masks.dtype == np.bool_
    for fold in range(3):
        np.testing.assert_array_equal(masks[fold], np.asarray(ids) != fold)
    np.testing.assert_array_equal((~masks).sum(0), np.ones(11))


def test_masked_weights_keep_their_dtype():
    mask = jnp.array([True, False, True, False])
    for weights in (
        jnp.array([True, True, False, True]),
        jnp.array([2, 3, 0, 1], jnp.int32),
        jnp.array([0.5, 1.5, 0.0, 2.0], jnp.float32),
    ):
        masked = folds.masked_weights(weights, mask)
        assert masked.dtype == weights.dtype
        np.testing.assert_array_equal(masked, np.where(mask, weights, 0).astype(weights.dtype))


def test_masked_weights_stay_bool_under_vmap():
    weights = jnp.ones(6, bool)
    masks = folds.fitting_masks(jnp.array([0, 1, 2, 0, 1, 2], jnp.int32), 3)
    batched = jax.vmap(folds.masked_weights, in_axes=(None, 0))(weights, masks)
    assert batched.dtype == jnp.bool_
    np.testing.assert_array_equal(batched, masks)


def test_largest_fold():
    assert folds.largest_fold(10, 3) == 4
    assert folds.largest_fold(9, 3) == 3
    assert folds.largest_fold(1, 1) == 1


# -- Iterative stratification. ------------------------------------------------------------


def _reference_iterative(labels, weights, k, key):
    """Iterative stratification as Sechidis et al. describe it, one row at a time, with
    the tie rules of ``iterative_fold_ids`` and its randomness (integer weights).

    Returns:
      ``(ids, fresh)``: the folds, and the classes none of whose positive rows had been
      dealt when the class was chosen.
    """
    n_rows, n_classes = labels.shape
    weights = np.ones(n_rows, np.int64) if weights is None else np.asarray(weights, np.int64)
    bits = np.asarray(folds._random_bits(key, 2 * n_rows + n_classes))
    order, class_rank, rotation = folds._iterative_randomness(bits, n_rows, n_classes, k, np)
    positive = labels & (weights > 0)[:, None]
    wanted = [[int(weights[positive[:, c]].sum()) for c in range(n_classes)] for _ in range(k)]
    wanted_rows = [int(weights.sum())] * k
    left = positive.sum(0)
    ids = np.full(n_rows, -1)
    fresh = []

    def best(row, key_of):
        turns = [(rotation[row] + turn) % k for turn in range(k)]
        return max(turns, key=lambda fold: (key_of(fold), -turns.index(fold)))

    def deal(row, fold):
        ids[row] = fold
        wanted_rows[fold] -= k * weights[row]
        for c in np.flatnonzero(positive[row]):
            wanted[fold][c] -= k * weights[row]
            left[c] -= 1

    while (left > 0).any():
        chosen = min(np.flatnonzero(left > 0), key=lambda c: (left[c], class_rank[c]))
        if left[chosen] == positive[:, chosen].sum():
            fresh.append(chosen)
        for row in order:
            if positive[row, chosen] and ids[row] < 0:
                deal(row, best(row, lambda fold, c=chosen: (wanted[fold][c], wanted_rows[fold])))
    for row in order:
        if weights[row] > 0 and ids[row] < 0:
            deal(row, best(row, lambda fold: wanted_rows[fold]))
    for row in order:
        if ids[row] < 0:
            sizes = np.bincount(ids[ids >= 0], minlength=k)
            ids[row] = int(np.argmin(sizes))
    return ids, fresh


@st.composite
def _multilabel(draw, max_rows=30, max_classes=6):
    n_rows = draw(st.integers(1, max_rows))
    n_classes = draw(st.integers(1, max_classes))
    density = draw(st.sampled_from([0.05, 0.2, 0.5, 0.9]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    labels = rng.random((n_rows, n_classes)) < density
    weights = draw(st.sampled_from([None, "bool", "int"]))
    if weights == "bool":
        weights = rng.random(n_rows) < 0.8
    elif weights == "int":
        weights = rng.integers(0, 4, n_rows)
    return labels, weights, draw(st.integers(1, 5)), seed


@settings(max_examples=80, deadline=None)
@given(_multilabel())
def test_iterative_folds_follow_the_algorithm(problem):
    """The folds equal a row-at-a-time reference of the algorithm, cover every row once,
    and keep its guarantees: a class none of whose rows an earlier class dealt has its
    positive weight spread within one row's weight (within one row for unit weights), and
    with at least k rows that count, no fold is without one."""
    labels, weights, k, seed = problem
    key = jax.random.key(seed)
    ids = folds.iterative_fold_ids(key, labels, k, weights)
    assert ids.shape == (len(labels),) and ids.dtype == jnp.int32
    ids = np.asarray(ids)
    expected, fresh = _reference_iterative(labels, weights, k, key)
    np.testing.assert_array_equal(ids, expected)
    assert ids.min() >= 0 and ids.max() < k
    row_weight = np.ones(len(labels), int) if weights is None else np.asarray(weights, int)
    positive = labels & (row_weight > 0)[:, None]
    for c in fresh:
        per_fold = [row_weight[positive[:, c] & (ids == f)].sum() for f in range(k)]
        assert max(per_fold) - min(per_fold) <= row_weight[positive[:, c]].max()
    counted = row_weight > 0
    if counted.sum() >= k:
        assert set(ids[counted]) == set(range(k))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 6), st.integers(2, 5), st.integers(0, 2**31 - 1))
def test_iterative_folds_of_single_label_rows_are_balanced(n_rows, n_classes, k, seed):
    """Rows of at most one class: every class's rows, and the folds' sizes, differ by at
    most one row across folds (stratified k-fold of multi-class data)."""
    rng = np.random.default_rng(seed)
    labels = np.eye(n_classes + 1, dtype=bool)[rng.integers(0, n_classes + 1, n_rows), 1:]
    ids = np.asarray(folds.iterative_fold_ids(jax.random.key(seed), labels, k))
    sizes = np.bincount(ids, minlength=k)
    assert sizes.max() - sizes.min() <= 1
    per_class = np.stack([labels[ids == fold].sum(0) for fold in range(k)])
    assert (per_class.max(0) - per_class.min(0) <= 1).all()


def test_iterative_folds_depend_on_the_key_only():
    labels = np.random.default_rng(3).random((60, 5)) < 0.3
    first = np.asarray(folds.iterative_fold_ids(jax.random.key(0), labels, 3))
    again = np.asarray(folds.iterative_fold_ids(jax.random.key(0), labels.astype(np.uint8), 3))
    other = np.asarray(folds.iterative_fold_ids(jax.random.key(1), labels, 3))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    legacy = folds.iterative_fold_ids(jax.random.PRNGKey(0), jnp.asarray(labels), 3)
    np.testing.assert_array_equal(legacy, first)  # the same key, its raw form


@pytest.mark.parametrize("weights", ["int", "float"])  # int: also bool and None
def test_traced_iterative_folds_equal_the_host_ones(weights):
    """Under jit (lax.while_loop) and vmap, the folds are those of the host algorithm."""
    rng = np.random.default_rng(4)
    labels = rng.random((24, 5)) < rng.uniform(0.05, 0.6, 5)
    sample_weight = rng.integers(0, 4, 24)  # rows of weight 0 too
    if weights == "float":
        sample_weight = sample_weight / 2  # halves: sums exact in float32
    keys = jax.random.split(jax.random.key(5), 3)
    host = [np.asarray(folds.iterative_fold_ids(key, labels, 3, sample_weight)) for key in keys]
    traced = jax.jit(
        jax.vmap(folds.iterative_fold_ids, in_axes=(0, None, None, None)), static_argnums=2
    )
    np.testing.assert_array_equal(traced(keys, labels, 3, sample_weight), np.stack(host))


def test_too_few_slots_deal_the_rest_as_rows_without_a_class():
    labels = np.zeros((12, 2), bool)
    labels[:, 0] = True  # 12 positives, 4 slots
    ids = jax.jit(folds.iterative_fold_ids, static_argnums=2, static_argnames="slots")(
        jax.random.key(0), labels, 3, slots=4
    )
    assert np.bincount(np.asarray(ids), minlength=3).tolist() == [4, 4, 4]


def test_assign_chooses_the_kind():
    rows = validation.as_rows(np.random.default_rng(6).random((20, 3)), np.eye(20, 3, dtype=bool))
    key = jax.random.key(1)
    np.testing.assert_array_equal(folds.assign("random", key, rows, 4), folds.fold_ids(key, 20, 4))
    np.testing.assert_array_equal(
        folds.assign("iterative", key, rows, 4), folds.iterative_fold_ids(key, rows.labels, 4)
    )
    with pytest.raises(ValueError, match="folds: must be one of random, iterative; got 'strat'"):
        folds.assign("strat", key, rows, 4)
    with pytest.raises(ValueError, match="n_folds: must be >= 1"):
        folds.iterative_fold_ids(key, rows.labels, 0)
