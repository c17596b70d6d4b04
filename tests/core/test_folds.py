import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxthresh.core import folds


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
