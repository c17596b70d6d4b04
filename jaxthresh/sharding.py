"""Rows sharded over many devices, of one process or of many.

:func:`shard_rows` places a problem on a ``jax.sharding.Mesh`` with its rows split along
the mesh's ``"rows"`` axis, padded with rows of weight 0 (which count for nothing) to a
multiple of the number of devices. Every fit then runs on them:
``jaxthresh.fit_sgl(*jaxthresh.shard_rows(scores, labels), init=0.3)``. Counts are
partitioned by XLA, each device adding its own rows; SGLThresh runs on every device's own
rows, each epoch's per-class sums added across devices; the exact searches trade rows
for classes with all-to-alls, so that each device sorts all the rows of its share of the
classes (:func:`jaxthresh.core.cuts.map_column_blocks`); no host callback runs on sharded
rows (:mod:`jaxthresh.core.batching`). BUILD_NOTES ("Rows over many devices and hosts")
says what runs where.

Many hosts: every process calls :func:`initialize` (``jax.distributed.initialize``) first;
``jax.devices()`` then lists the devices of every process, and
``shard_rows(..., process_local=True)`` takes each process's own rows.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxthresh.core import batching, validation
from jaxthresh.core.batching import ROWS


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


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> None:
    """Joins JAX's multi-controller runtime (``jax.distributed.initialize`` with the same
    arguments; None: from the cluster's environment), with collectives between the CPU
    devices of different processes enabled (gloo). Call it first, on every process, before
    any other JAX call."""
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address, num_processes, process_id)


def row_mesh(devices=None) -> Mesh:
    """A one-axis mesh named ``"rows"`` over ``devices`` (default: all of them, of every
    process, in process order)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (ROWS,))


def shard_rows(
    scores,
    labels,
    sample_weight=None,
    *,
    mesh: Mesh | None = None,
    process_local: bool = False,
) -> ShardedRows:
    """Checks, pads and places a problem on ``mesh``, rows split over its devices.

    Args:
      scores: real ``[n, classes]``: every row (the same on every process), or with
        ``process_local`` this process's own rows.
      labels: 0/1 or bool ``[n, classes]``.
      sample_weight: None, or non-negative weights of rows ``[n]`` or labels
        ``[n, classes]``.
      mesh: a mesh with a ``"rows"`` axis (default :func:`row_mesh`).
      process_local: each process passes only its own rows (any number, 0 included;
        the same classes and kind of weights everywhere). The global rows are process
        0's, then process 1's, and so on (in the order of the processes' devices along
        the mesh), each process's rows padded with rows of weight 0 to the same count
        ``per_process`` (the most rows of any process, rounded up to a multiple of its
        devices): global row ``p * per_process + i`` is row ``i`` of process ``p``. No
        process holds another's rows. Every process must call it (it agrees on the
        shapes with the others).

    Returns:
      :class:`ShardedRows`, to pass on as ``fit_*(*sharded, **hyperparameters)``.
    """
    mesh = row_mesh() if mesh is None else mesh
    if ROWS not in mesh.axis_names:
        raise ValueError(f"mesh: needs an axis named {ROWS!r}, has {mesh.axis_names}")
    if process_local:
        return _shard_process_rows(scores, labels, sample_weight, mesh)
    rows = validation.as_rows(scores, labels, sample_weight)
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


_WEIGHT_KINDS = (np.bool_, np.int32, np.float32)


def _local_rows(scores, labels, sample_weight):
    """This process's rows checked, as NumPy ``(scores, labels, weights)`` (no device
    copy), and None; or None and the error's message."""
    try:
        if np.shape(scores)[:1] == (0,):  # no rows here: shapes only
            scores = np.asarray(scores, np.float32).reshape(0, *np.shape(scores)[1:])
        else:
            scores = np.asarray(validation.as_scores(scores))
        labels = np.asarray(validation.checked_labels(labels, shape=scores.shape), bool)
        if sample_weight is None:
            weights = np.ones(len(scores), bool)
        else:
            weights = validation.as_weights(sample_weight, *scores.shape, empty_ok=True)
            weights = np.asarray(weights)
        return (scores, labels, weights), None
    except ValueError as error:
        return None, str(error)


def _shard_process_rows(scores, labels, sample_weight, mesh: Mesh) -> ShardedRows:
    local, error = _local_rows(scores, labels, sample_weight)
    shape = np.shape(scores)
    classes = shape[1] if len(shape) == 2 else -1
    per_label = local is not None and local[2].ndim == 2
    kind = -1 if local is None else _WEIGHT_KINDS.index(local[2].dtype.type)
    own_devices = [d for d in mesh.devices.flat if d.process_index == jax.process_index()]
    mine = np.asarray(
        [error is None, len(local[0]) if local else 0, classes, per_label, kind, len(own_devices)],
        np.int64,
    )
    everyone = np.asarray(multihost_utils.process_allgather(mine)).reshape(-1, mine.size)
    if error is not None:
        raise ValueError(error)
    failed = np.flatnonzero(everyone[:, 0] == 0)
    if failed.size:
        raise ValueError(f"process_local: the rows of process(es) {failed.tolist()} are invalid")
    for column, name in ((2, "classes"), (3, "weights per label"), (4, "weight dtype")):
        if np.any(everyone[:, column] != everyone[0, column]):
            raise ValueError(
                f"process_local: the processes' rows differ in {name}: "
                f"{everyone[:, column].tolist()}"
            )
    if np.any(everyone[:, 5] != everyone[0, 5]) or everyone[0, 5] == 0:
        raise ValueError(
            f"mesh: every process needs the same number (> 0) of devices on it, has "
            f"{everyone[:, 5].tolist()}"
        )
    if everyone[:, 1].sum() == 0:
        raise ValueError("scores: no process has any row")
    devices = int(everyone[0, 5])
    per_process = -(-int(everyone[:, 1].max()) // devices) * devices
    total = per_process * len(everyone)
    _check_global_totals(local[2], classes)
    return ShardedRows(*(_process_array(a, total, mesh) for a in local))


def _process_array(rows: np.ndarray, total: int, mesh: Mesh) -> jax.Array:
    """The global ``[total, ...]`` array of which this process's devices hold ``rows``
    (this process's rows, in order, then zeros): each device's block is copied once, into
    a buffer that the device adopts (no other copy of the rows is made)."""
    shape = (total, *rows.shape[1:])
    sharding = NamedSharding(mesh, PartitionSpec(ROWS, *(None,) * (rows.ndim - 1)))
    blocks = sharding.addressable_devices_indices_map(shape)
    spans = {device: index[0].indices(total)[:2] for device, index in blocks.items()}
    first = min(start for start, _ in spans.values())
    arrays = []
    for device, (start, stop) in spans.items():
        start, stop = start - first, stop - first
        block = validation.aligned_empty((stop - start, *shape[1:]), rows.dtype)
        part = rows[start:stop]
        block[: len(part)] = part
        block[len(part) :] = 0
        arrays.append(jax.device_put(block, device))
    return jax.make_array_from_single_device_arrays(shape, sharding, arrays)


def _check_global_totals(weights: np.ndarray, classes: int) -> None:
    """The checks of :func:`jaxthresh.core.validation.check_weight_totals` that depend on
    every process's rows: some weight is not 0, and the counts hold the total."""
    if weights.ndim == 2:
        local = np.sum(weights, axis=0, dtype=np.float64)
    else:
        local = np.full(classes, np.sum(weights, dtype=np.float64))
    summed = np.asarray(multihost_utils.process_allgather(local)).reshape(-1, classes).sum(0)
    if summed.sum() == 0:
        raise ValueError("sample_weight: every weight of every process is 0: nothing to fit")
    floats = weights.dtype == np.float32
    limit = validation.MAX_FLOAT_TOTAL if floats else validation.MAX_COUNT
    if summed.sum() > limit:
        raise ValueError(
            f"sample_weight: the weights of every process total {summed.sum():.4g} over the "
            f"classes, more than the counts hold ({limit:.4g})"
        )


def like_rows(array, rows) -> jax.Array:
    """``array`` (``[n, ...]``, concrete, the same on every process) split over the
    devices as the rows of the pytree ``rows`` are; unchanged where those rows are on one
    device."""
    mesh = batching.rows_mesh_of(rows)
    if mesh is None:
        return array
    host = validation.host_array(array)
    spec = PartitionSpec(ROWS, *(None,) * (host.ndim - 1))
    return jax.make_array_from_callback(
        host.shape, NamedSharding(mesh, spec), lambda index: host[index]
    )
