"""Reductions written for the fast path of XLA on CPU, exact on every backend.

XLA on CPU vectorizes a float32 ``sum``, ``max`` or ``min`` along an axis, but not an
integer one, nor one that converts bool to float32 on the way, nor the value-and-index
reduction of ``argmax`` (each about three to ten times slower on the same data,
``experiments/cpu_kernel_tricks.py``). So:

* counting the True entries of a bool matrix goes through ``uint8`` (a conversion XLA
  keeps out of the reduction) and float32 sums of 0.0/1.0, which are exact below 2**24
  rows; longer columns are summed in blocks whose totals are added as int32
  (:func:`count_true`, :func:`column_sum`);
* the first index of a maximum is two float ``max`` reductions (:func:`argmax_first`).

On other backends each costs one conversion or one pass more than the plain form.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_BLOCK_ROWS = 2**23


def column_sum(values: jax.Array, block_rows: int = _BLOCK_ROWS) -> jax.Array:
    """Exact column sums of float32 0/1 ``values [n, classes]``, as int32: one float32 sum
    below ``2 * block_rows`` rows (exact below 2**24), else sums of ``block_rows``-row
    blocks added as int32."""
    rows = values.shape[0]
    if rows < 2 * block_rows:
        return jnp.sum(values, axis=0).astype(jnp.int32)
    blocks = -(-rows // block_rows)
    padded = jnp.pad(values, ((0, blocks * block_rows - rows), (0, 0)))
    block_sums = jnp.sum(padded.reshape(blocks, block_rows, -1), axis=1)
    return jnp.sum(block_sums.astype(jnp.int32), axis=0)


def count_true(mask: jax.Array, block_rows: int = _BLOCK_ROWS) -> jax.Array:
    """int32[classes]: the True entries of each column of bool ``mask [n, classes]``."""
    return column_sum(mask.astype(jnp.uint8).astype(jnp.float32), block_rows)


def argmax_first(values: jax.Array, axis: int = 1) -> jax.Array:
    """int32, ``jnp.argmax(values, axis)`` of float32 ``values`` without NaN (the first
    index of the maximum along ``axis``), from two float ``max`` reductions: the maximum,
    then the highest ``-index`` among the entries equal to it (exact below 2**24)."""
    values = jnp.asarray(values, jnp.float32)
    best = jnp.max(values, axis=axis, keepdims=True)
    shape = [1] * values.ndim
    shape[axis] = values.shape[axis]
    index = jnp.arange(values.shape[axis], dtype=jnp.float32).reshape(shape)
    first = jnp.max(jnp.where(values == best, -index, -jnp.inf), axis=axis)
    return (-first).astype(jnp.int32)
