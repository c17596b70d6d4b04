"""Rows sharded over many devices: the per-class sums are reduced across devices by XLA.

:func:`shard_rows` pads the rows to a multiple of the number of devices with rows of weight
0 (which count for nothing, see :func:`jaxthresh.confusion_counts`) and places them on a
``jax.sharding.Mesh`` with the rows split along its axis. Every ``*_fit_weighted`` function
then runs unchanged under ``jit``: XLA partitions the reductions over rows and adds the
per-device partial sums. Multi-host: call ``jax.distributed.initialize()`` on every host
first; ``jax.devices()`` then lists the devices of all hosts (see the README).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxthresh import _validation

ROWS = "rows"


class ShardedRows(NamedTuple):
    """Inputs of the ``*_fit_weighted`` functions, rows split over devices.

    Attributes:
      scores: float32[padded_n, classes].
      labels: bool[padded_n, classes].
      row_weights: int32[padded_n]: the given weights (default 1), then 0 for padding.
    """

    scores: jax.Array
    labels: jax.Array
    row_weights: jax.Array


def row_mesh(devices=None) -> Mesh:
    """A one-axis mesh named ``"rows"`` over ``devices`` (default: all of them)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (ROWS,))


def shard_rows(scores, labels, row_weights=None, *, mesh: Mesh | None = None) -> ShardedRows:
    """Validates, pads and places ``scores``, ``labels`` and row weights on ``mesh``.

    Args:
      scores: float[n, classes].
      labels: 0/1 ``[n, classes]``.
      row_weights: optional non-negative int[n] (default all 1).
      mesh: a mesh with a ``"rows"`` axis (default :func:`row_mesh`).

    Returns:
      :class:`ShardedRows`, ready for e.g. ``sgl_fit_weighted(*sharded, **hyperparameters)``.
    """
    scores, labels = _validation.as_scores_and_labels(scores, labels)
    n = scores.shape[0]
    if row_weights is None:
        row_weights = np.ones(n, np.int32)
    row_weights = np.asarray(row_weights)
    if row_weights.shape != (n,) or not np.issubdtype(row_weights.dtype, np.integer):
        raise ValueError(f"row_weights: expected {n} whole numbers, got {row_weights.shape}")
    if (row_weights < 0).any():
        raise ValueError("row_weights: must be >= 0")
    mesh = row_mesh() if mesh is None else mesh
    if ROWS not in mesh.axis_names:
        raise ValueError(f"mesh: needs an axis named {ROWS!r}, has {mesh.axis_names}")
    padding = -n % mesh.shape[ROWS]
    rows = NamedSharding(mesh, PartitionSpec(ROWS))
    matrix = NamedSharding(mesh, PartitionSpec(ROWS, None))
    return ShardedRows(
        jax.device_put(np.pad(scores, ((0, padding), (0, 0))), matrix),
        jax.device_put(np.pad(labels, ((0, padding), (0, 0))), matrix),
        jax.device_put(np.pad(row_weights.astype(np.int32), (0, padding)), rows),
    )
