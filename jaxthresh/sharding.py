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

import contextlib
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


# -- Processes that fail together ------------------------------------------------------

#: Bytes of a failing process's message that the others receive (a longer one is cut).
MESSAGE_BYTES = 2048
_OK, _BAD_INPUT, _BUG = 0, 1, 2


def _status(error: BaseException | None) -> np.ndarray:
    """uint8[1 + MESSAGE_BYTES]: this process's outcome (:data:`_OK`, :data:`_BAD_INPUT`
    for a ``ValueError`` or ``OSError``, :data:`_BUG` for anything else), then the error's
    message in UTF-8."""
    status = np.zeros(1 + MESSAGE_BYTES, np.uint8)
    if error is None:
        return status
    bad_input = isinstance(error, ValueError | OSError)
    text = " ".join(str(error).split()) if bad_input else f"{type(error).__name__}: {error}"
    message = text.encode("utf-8")[:MESSAGE_BYTES]
    status[0] = _BAD_INPUT if bad_input else _BUG
    status[1 : 1 + len(message)] = np.frombuffer(message, np.uint8)
    return status


def exchanged(error: BaseException | None, values, failed_values):
    """Every process's ``values`` (a pytree of NumPy arrays, shaped alike on every
    process), stacked along a new first axis; ``failed_values`` (the same shapes) stand in
    for those of a process that failed. Then raises on every process if any failed: its own
    error where it failed here, else a ``ValueError`` (``RuntimeError`` for a bug) with the
    first failing process's message, naming it."""
    sent = {"status": _status(error), "values": failed_values if error is not None else values}
    if jax.process_count() == 1:
        received = jax.tree.map(lambda v: np.asarray(v)[None], sent)
    else:
        received = multihost_utils.process_allgather(sent)
    if error is not None:
        raise error
    statuses = np.asarray(received["status"])
    failed = np.flatnonzero(statuses[:, 0])
    if len(failed):
        first = int(failed[0])
        text = bytes(statuses[first, 1:]).rstrip(b"\0").decode("utf-8", "ignore")
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        kind = ValueError if statuses[first, 0] == _BAD_INPUT else RuntimeError
        raise kind(f"{text} (on process {first}{more})")
    return received["values"]


@contextlib.contextmanager
def fail_together():
    """A block that every process of a multi-process JAX run runs: if it raises on any
    process, it raises on every one (the others a ``ValueError`` with the first failing
    process's message, naming that process; a ``RuntimeError`` where that error was not a
    ``ValueError`` or ``OSError``), so that none goes on to wait forever in a collective
    that the failed one will never join. The block itself must hold no collective. In a
    one-process run it only runs the block.
    """
    if jax.process_count() == 1:
        yield
        return
    try:
        yield
    except Exception as error:
        exchanged(error, {}, {})
        raise  # _exchanged re-raises this process's own error
    exchanged(None, {}, {})


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
    copy)."""
    if np.shape(scores)[:1] == (0,):  # no rows here: shapes only
        scores = np.asarray(scores, np.float32).reshape(0, *np.shape(scores)[1:])
    else:
        scores = np.asarray(validation.as_scores(scores))
    labels = np.asarray(validation.checked_labels(labels, shape=scores.shape), bool)
    if sample_weight is None:
        return scores, labels, np.ones(len(scores), bool)
    weights = validation.as_weights(sample_weight, *scores.shape, empty_ok=True)
    return scores, labels, np.asarray(weights)


def _shard_process_rows(scores, labels, sample_weight, mesh: Mesh) -> ShardedRows:
    own_devices = sum(d.process_index == jax.process_index() for d in mesh.devices.flat)
    local, summary, error = None, None, None
    try:
        local = _local_rows(scores, labels, sample_weight)
        weights = local[2]
        kind = _WEIGHT_KINDS.index(weights.dtype.type)
        summary = [len(weights), local[0].shape[1], weights.ndim == 2, kind, own_devices]
        summary = np.asarray(summary, np.int64)
    except Exception as caught:  # raised on every process, naming this one
        error = caught
    # Rows, classes, weights per label, weight dtype, devices: one row per process.
    everyone = exchanged(error, summary, np.full(5, -1, np.int64))
    for column, name in ((1, "classes"), (2, "weights per label"), (3, "weight dtype")):
        if np.any(everyone[:, column] != everyone[0, column]):
            raise ValueError(
                f"process_local: the processes' rows differ in {name}: "
                f"{everyone[:, column].tolist()}"
            )
    if np.any(everyone[:, 4] != everyone[0, 4]) or everyone[0, 4] == 0:
        raise ValueError(
            f"mesh: every process needs the same number (> 0) of devices on it, has "
            f"{everyone[:, 4].tolist()}"
        )
    if everyone[:, 0].sum() == 0:
        raise ValueError("scores: no process has any row")
    devices = int(everyone[0, 4])
    per_process = -(-int(everyone[:, 0].max()) // devices) * devices
    total = per_process * len(everyone)
    sharded = ShardedRows(*(_process_array(a, total, mesh) for a in local))
    # What depends on every process's rows: some weight > 0, totals the counts hold.
    validation.check_weight_totals(sharded.sample_weight, int(everyone[0, 1]))
    return sharded


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
