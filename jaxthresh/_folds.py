"""Cross-validation folds as per-row weights."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def fold_ids(key: jax.Array, n_rows: int, n_folds: int) -> jax.Array:
    """Shuffled, balanced fold assignment: int32[n_rows] in [0, n_folds), sizes differ by <= 1.

    Args:
      key: a ``jax.random`` key.
      n_rows: number of rows.
      n_folds: number of folds.
    """
    if n_folds < 1:
        raise ValueError(f"n_folds: must be >= 1, got {n_folds}")
    return (jax.random.permutation(key, n_rows) % n_folds).astype(jnp.int32)


def fold_weights(ids: jax.Array, n_folds: int) -> jax.Array:
    """int32[folds, n]: 1 where a row is used to fit fold ``f`` (it is not in fold ``f``)."""
    return (ids[None, :] != jnp.arange(n_folds)[:, None]).astype(jnp.int32)
