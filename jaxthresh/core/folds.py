"""Cross-validation folds, expressed as per-row weights over one shared copy of the data.

A fold's fitting rows are the rows of every other fold: a bool row mask, so folds of
unequal size share one compiled program, ``vmap`` (or a loop) runs them over the same
scores, and no fold copies the data.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def fold_ids(key: jax.Array, n_rows: int, n_folds: int) -> jax.Array:
    """Shuffled, balanced fold assignment: int32[n_rows] in [0, n_folds), sizes differ by <= 1.

    Args:
      key: a ``jax.random`` key.
      n_rows: number of rows (static).
      n_folds: number of folds (static), >= 1.
    """
    if n_folds < 1:
        raise ValueError(f"n_folds: must be >= 1, got {n_folds}")
    return (jax.random.permutation(key, n_rows) % n_folds).astype(jnp.int32)


def fitting_masks(ids: jax.Array, n_folds: int) -> jax.Array:
    """bool[folds, n]: True where a row is used to fit fold ``f`` (it is not in fold ``f``)."""
    return ids[None, :] != jnp.arange(n_folds)[:, None]


def masked_weights(weights: jax.Array, mask: jax.Array) -> jax.Array:
    """Row weights with the rows outside ``mask`` (bool[n]) set to 0, dtype kept (bool
    weights stay bool, so that kernels for in-or-out rows still apply)."""
    if weights.dtype == jnp.bool_:
        return weights & mask
    return jnp.where(mask, weights, 0).astype(weights.dtype)


def largest_fold(n_rows: int, n_folds: int) -> int:
    """Rows in the largest of ``n_folds`` balanced folds."""
    return -(-n_rows // n_folds)
