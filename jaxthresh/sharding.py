"""Rows sharded over many devices: the per-class sums are reduced across devices by XLA.

:func:`shard_rows` pads the rows to a multiple of the number of devices with rows of weight
0 (which count for nothing) and places them on a ``jax.sharding.Mesh`` with the rows split
along its axis. Every fit then runs unchanged:
``jaxthresh.fit_sgl(*jaxthresh.shard_rows(scores, labels), init=0.3)``; XLA partitions the
reductions over rows and adds the per-device partial sums. Multi-host: call
``jax.distributed.initialize()`` on every host first; ``jax.devices()`` then lists the
devices of all hosts (see the README).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxthresh.core import validation

ROWS = "rows"


class ShardedRows(NamedTuple):
    """``(scores, labels, sample_weight)`` with the rows split over devices.

    Attributes:
      scores: float32[padded_n, classes].
      labels: bool[padded_n, classes].
      sample_weight: ``[padded_n]`` (``[padded_n, classes]`` for per-label weights): the
        given weights (bool True where none were given), then 0 (False) for the padding.
    """

    scores: jax.Array
    labels: jax.Array
    sample_weight: jax.Array


def row_mesh(devices=None) -> Mesh:
    """A one-axis mesh named ``"rows"`` over ``devices`` (default: all of them)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (ROWS,))


def shard_rows(scores, labels, sample_weight=None, *, mesh: Mesh | None = None) -> ShardedRows:
    """Checks, pads and places a problem on ``mesh``, rows split over its devices.

    Args:
      scores: real ``[n, classes]``.
      labels: 0/1 or bool ``[n, classes]``.
      sample_weight: None, or non-negative weights of rows ``[n]`` or labels
        ``[n, classes]``.
      mesh: a mesh with a ``"rows"`` axis (default :func:`row_mesh`).

    Returns:
      :class:`ShardedRows`, to pass on as ``fit_*(*sharded, **hyperparameters)``.
    """
    rows = validation.as_rows(scores, labels, sample_weight)
    mesh = row_mesh() if mesh is None else mesh
    if ROWS not in mesh.axis_names:
        raise ValueError(f"mesh: needs an axis named {ROWS!r}, has {mesh.axis_names}")
    padding = -rows.scores.shape[0] % mesh.shape[ROWS]
    by_rows = NamedSharding(mesh, PartitionSpec(ROWS))
    matrix = NamedSharding(mesh, PartitionSpec(ROWS, None))
    return ShardedRows(
        jax.device_put(jnp.pad(rows.scores, ((0, padding), (0, 0))), matrix),
        jax.device_put(jnp.pad(rows.labels, ((0, padding), (0, 0))), matrix),
        jax.device_put(
            jnp.pad(rows.weights, [(0, padding)] + [(0, 0)] * (rows.weights.ndim - 1)),
            by_rows if rows.weights.ndim == 1 else matrix,
        ),
    )
