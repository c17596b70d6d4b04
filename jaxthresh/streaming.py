"""Out of core: per-class histograms built in one pass over chunks of rows, and fits on them.

Scores too large for memory are read a chunk of rows at a time: from a ``.npy`` file (plain
file reads, so resident memory holds about one chunk), from any array that slices by rows
(``np.memmap`` included), or from any iterable of ``(scores, labels)`` chunks. Each class's
score range ``[low, high]`` is cut into ``cells`` equal cells, and one pass counts, per class
and cell, all rows and positive rows (a jitted scatter-add per chunk, exact ``int32``
counts) into a :class:`jaxthresh.histogram.Histogram`, the same tables the in-memory
``bins=`` option builds. Whatever the number of rows, :func:`jaxthresh.fit_histogram`
then fits ``sgl``, ``exact`` or ``numerical`` on them at cell resolution, every SGLThresh
epoch costing O(classes x cells).

The range comes from a first, cheaper pass (per-class minimum and maximum) unless
``score_range`` is given (``(0.0, 1.0)`` for sigmoid outputs, or two ``[classes]`` arrays,
a range per class); a one-shot iterator needs it. A score outside a given range is an
error.

Rows spread over the processes of a multi-process JAX run (``jax.distributed``; one host
each, say) make one histogram with ``all_processes=True``: each process reads its own rows,
the processes agree on each class's range (or check that theirs is the same), and their
count tables are gathered and added (:func:`jaxthresh.merge_histograms`), so every process
returns the histogram of all the rows. Only per-class ranges, small status records and the
``[classes, bins]`` tables cross between processes (``process_allgather``), never rows;
each step that can fail on one process is followed by an exchange of outcomes
(:func:`jaxthresh.sharding.fail_together`, :func:`jaxthresh.sharding.exchanged`), so that
an error on one process is an error on all of them rather than a wait without end.

Every chunk is checked as the in-memory fits check their inputs (finite scores, 0/1
labels), with the chunk's rows named in the message.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh.core import validation
from jaxthresh.core.histogram import Histogram, cell_counts, cells_of, merge_histograms
from jaxthresh.sharding import exchanged, fail_together

DEFAULT_BINS = 1024
DEFAULT_CHUNK_ROWS = 8192


@jax.jit
def _chunk_range(scores: jax.Array):
    """Per-class minimum and maximum of float32[rows, classes], and whether every score is
    finite (XLA's minimum and maximum on CPU may pass over a NaN: it is checked apart)."""
    return jnp.min(scores, axis=0), jnp.max(scores, axis=0), jnp.all(jnp.isfinite(scores))


@functools.partial(jax.jit, static_argnames=("bins",))
def _chunk_histogram(scores, labels, low, width, *, bins):
    """One chunk's ``(counts, positives)`` and :func:`_chunk_range`."""
    counts, positives = cell_counts(scores, labels, None, low, width, cells=bins)
    return counts, positives, *_chunk_range(scores)


def _finite(scores: np.ndarray, finite, where: str) -> None:
    """Raises the not-finite error of a chunk whose scores are not all ``finite``, rows
    counted from its start."""
    if not bool(finite):
        count, first = validation.not_finite(np.asarray(scores), np)
        index = np.unravel_index(int(first), scores.shape)
        error = validation.not_finite_error(int(count), index, scores[index])
        raise ValueError(f"{error}, counting rows from the chunk at {where}")


class NpyChunks:
    """Re-iterable ``(scores, labels)`` chunks of rows from two ``.npy`` files or arrays.

    A path is read with plain file reads, a chunk at a time (a memory map would count every
    page read in the resident set); an array (``np.memmap`` included) is sliced.

    Args:
      scores: float ``[n, classes]``: a ``.npy`` path or an array.
      labels: 0/1 or bool ``[n, classes]``: a ``.npy`` path or an array.
      chunk_rows: rows per chunk.
      empty_ok: accept ``[0, classes]`` (no chunks), as one process of many may hold.
    """

    def __init__(
        self, scores, labels, chunk_rows: int = DEFAULT_CHUNK_ROWS, *, empty_ok: bool = False
    ):
        self.chunk_rows = validation.positive_int(chunk_rows, "chunk_rows")
        self._scores = _open(scores, "scores")
        self._labels = _open(labels, "labels")
        if self._labels.shape != self._scores.shape:
            raise ValueError(
                f"labels: shape {self._labels.shape} does not match scores {self._scores.shape}"
            )
        rows, classes = self._scores.shape
        if classes == 0 or (rows == 0 and not empty_ok):
            raise ValueError(f"scores: expected a non-empty [n, classes] array, got {self.shape}")

    @property
    def shape(self) -> tuple[int, int]:
        return self._scores.shape

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rows = self.shape[0]
        for start in range(0, rows, self.chunk_rows):
            stop = min(start + self.chunk_rows, rows)
            yield self._scores.rows(start, stop), self._labels.rows(start, stop)


class _Rows:
    """Rows ``[start, stop)`` of an array or of a ``.npy`` file's array."""

    def __init__(self, name, shape, dtype, array=None, path=None, offset=0):
        self._name = name
        self.shape = shape
        self.dtype = dtype
        self._array = array
        self._path = path
        self._offset = offset

    def rows(self, start: int, stop: int) -> np.ndarray:
        if self._array is not None:
            return np.asarray(self._array[start:stop])
        row_bytes = self.shape[1] * self.dtype.itemsize
        out = np.empty((stop - start, self.shape[1]), self.dtype)
        with open(self._path, "rb") as file:
            file.seek(self._offset + start * row_bytes)
            if file.readinto(memoryview(out).cast("B")) != out.nbytes:
                raise ValueError(f"{self._name}: {self._path} is shorter than its header says")
        return out


def _open(source, name: str) -> _Rows:
    if isinstance(source, str | os.PathLike):
        try:
            with open(source, "rb") as file:
                version = np.lib.format.read_magic(file)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(file)
                offset = file.tell()
        except (OSError, ValueError) as error:
            raise ValueError(
                f"{name}: cannot read {os.fspath(source)!r} as .npy: {error}"
            ) from None
        if fortran and len(shape) > 1:
            raise ValueError(f"{name}: {os.fspath(source)!r} is Fortran-ordered; save it C-ordered")
        if len(shape) != 2:
            raise ValueError(f"{name}: expected [n, classes], got shape {shape}")
        if dtype.hasobject:
            raise ValueError(f"{name}: {os.fspath(source)!r} holds Python objects")
        return _Rows(name, tuple(shape), dtype, path=os.fspath(source), offset=offset)
    array = source if hasattr(source, "shape") and hasattr(source, "dtype") else np.asarray(source)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected [n, classes], got shape {array.shape}")
    return _Rows(name, tuple(array.shape), np.dtype(array.dtype), array=array)


def _checked_chunk(chunk, classes: int | None, start: int):
    """``(scores float32, labels bool, where)`` of one chunk, or a ``ValueError`` naming
    its rows."""
    try:
        scores, labels = chunk
    except (TypeError, ValueError):
        raise ValueError(
            f"chunks: expected (scores, labels) pairs, got {type(chunk).__name__}"
        ) from None
    scores, labels = np.asarray(scores), np.asarray(labels)
    where = f"rows {start}..{start + len(scores) - 1}"
    if scores.ndim != 2 or scores.shape[1] == 0 or scores.shape[1] != (classes or scores.shape[1]):
        expected = f"[rows, {classes}]" if classes else "[rows, classes >= 1]"
        raise ValueError(f"scores: chunk at {where} has shape {scores.shape}, expected {expected}")
    if labels.shape != scores.shape:
        raise ValueError(
            f"labels: chunk at {where} has shape {labels.shape}, scores {scores.shape}"
        )
    if not len(scores):
        return None, where
    try:
        scores = validation.as_scores(scores, check_values=False)  # checked in the pass
        labels = validation.as_labels(labels, shape=scores.shape)
    except ValueError as error:
        raise ValueError(f"{error}, counting rows from the chunk at {where}") from None
    return validation.Rows(scores, labels, None), where


def _chunks(chunks: Iterable, *, empty_ok: bool = False) -> Iterator[tuple[validation.Rows, str]]:
    """The checked, non-empty chunks of ``chunks`` with the rows they hold; refuses no rows
    at all (unless ``empty_ok``) and 2**31 rows or more."""
    try:
        iterator = iter(chunks)
    except TypeError:
        raise ValueError(f"chunks: expected an iterable, got {type(chunks).__name__}") from None
    classes, rows = None, 0
    for chunk in iterator:
        checked, where = _checked_chunk(chunk, classes, rows)
        if checked is None:
            continue
        classes = checked.scores.shape[1]
        rows += checked.scores.shape[0]
        if rows >= 2**31:
            raise ValueError("scores: 2**31 rows or more; the int32 counts would overflow")
        yield checked, where
    if rows == 0 and not empty_ok:
        raise ValueError("scores: no rows")


class _Local(NamedTuple):
    """What one process learned from its own chunks: their classes (None where it had no
    chunk to learn them from), rows, and per-class lowest and highest scores (None without
    rows) or histogram (None without rows)."""

    classes: int | None
    rows: int
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    histogram: Histogram | None = None


def _score_range(chunks: Iterable, *, empty_ok: bool = False) -> _Local:
    """Per-class lowest and highest scores, from a first pass over the chunks."""
    low, high, classes, rows = None, None, None, 0
    for checked, where in _chunks(chunks, empty_ok=empty_ok):
        chunk_low, chunk_high, finite = jax.device_get(_chunk_range(checked.scores))
        _finite(checked.scores, finite, where)
        low = chunk_low if low is None else np.minimum(low, chunk_low)
        high = chunk_high if high is None else np.maximum(high, chunk_high)
        classes, rows = checked.scores.shape[1], rows + checked.scores.shape[0]
    return _Local(classes, rows, low, high)


def _range_of(score_range) -> tuple[np.ndarray, np.ndarray]:
    """``score_range`` checked: ``(low, high)`` as float32 arrays, each 0-d (every class)
    or ``[classes]``, finite, ``low < high``."""
    shown = _shown_range(score_range)
    try:
        low, high = score_range
        with np.errstate(over="ignore"):  # beyond float32: infinite, refused below
            low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"score_range: expected (low, high), got {shown}") from None
    if (
        low.ndim > 1
        or high.ndim > 1
        or 0 in low.shape + high.shape
        or (low.ndim == high.ndim == 1 and low.shape != high.shape)
    ):
        raise ValueError(
            "score_range: low and high must each be a number or one number per class "
            f"[classes], got shapes {low.shape} and {high.shape}"
        )
    bad = ~(np.isfinite(low) & np.isfinite(high) & (low < high))
    if bad.ndim == 0 and bad:
        raise ValueError(f"score_range: expected finite low < high, got {shown}")
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        low_at, high_at = (float(np.broadcast_to(v, bad.shape)[at]) for v in (low, high))
        raise ValueError(
            f"score_range: expected finite low < high for every class, got ({low_at}, "
            f"{high_at}) at class {at} ({int(bad.sum())} such classes)"
        )
    return low, high


def _shown_range(score_range) -> str:
    """``score_range`` for a message: as given, or the shapes of arrays."""
    try:
        parts = list(score_range)
    except TypeError:
        return repr(score_range)
    if any(np.ndim(part) for part in parts if hasattr(part, "shape")):
        return "(" + ", ".join(f"array of shape {np.shape(part)}" for part in parts) + ")"
    return repr(score_range)


def _per_class(value: np.ndarray, classes: int) -> np.ndarray:
    """A range's low or high as float32[classes]; one per class must be one per class."""
    if value.ndim == 1 and value.shape[0] != classes:
        raise ValueError(
            f"score_range: {value.shape[0]} values per class for scores of {classes} classes"
        )
    return np.broadcast_to(value, (classes,))


def _count(chunks, bins: int, low, high, given: bool, *, empty_ok: bool = False) -> _Local:
    """The counting pass: the histogram of the chunks on cells spanning ``[low, high]``
    (0-d or per-class float32 arrays); ``given``: a user's range, which every score must lie
    in. Without rows (``empty_ok``), a :class:`_Local` without histogram."""
    cells, counts, positives, highest, rows = None, 0, 0, -np.inf, 0
    for checked, where in _chunks(chunks, empty_ok=empty_ok):
        if cells is None:
            classes = checked.scores.shape[1]
            validation.bins(bins, classes)
            low, high = _per_class(low, classes), _per_class(high, classes)
            cells = cells_of(low, high, bins)
        chunk_counts, chunk_positives, lowest, chunk_highest, finite = _chunk_histogram(
            checked.scores, checked.labels, *cells, bins=bins
        )
        _finite(checked.scores, finite, where)
        if given:
            _check_inside(lowest, chunk_highest, low, high, where)
        counts = counts + chunk_counts
        positives = positives + chunk_positives
        highest = jnp.maximum(highest, chunk_highest)
        rows += checked.scores.shape[0]
    if cells is None:
        return _Local(None, 0)
    return _Local(classes, rows, histogram=Histogram(*cells, counts, positives, highest))


def _check_inside(lowest, highest, low: np.ndarray, high: np.ndarray, where: str) -> None:
    """A ``ValueError`` if a chunk's scores (per-class ``lowest``, ``highest``) leave the
    given range ``[low, high]`` (float32[classes])."""
    outside = np.asarray(jax.device_get((lowest < low) | (highest > high)))
    if not outside.any():
        return
    lowest, highest = np.asarray(lowest), np.asarray(highest)
    if np.all(low == low[0]) and np.all(high == high[0]):  # one range for every class
        raise ValueError(
            f"score_range: scores at {where} lie outside ({float(low[0])}, {float(high[0])}) "
            f"(from {float(lowest.min())} to {float(highest.max())})"
        )
    at = int(np.flatnonzero(outside)[0])
    raise ValueError(
        f"score_range: scores at {where} lie outside the range of class {at}, "
        f"({float(low[at])}, {float(high[at])}) (from {float(lowest[at])} to "
        f"{float(highest[at])}; {int(outside.sum())} such classes)"
    )


def histogram_of_chunks(
    chunks: Iterable,
    *,
    bins: int = DEFAULT_BINS,
    score_range=None,
    all_processes: bool = False,
) -> Histogram:
    """One pass over ``(scores, labels)`` chunks of rows: their :class:`Histogram`.

    Args:
      chunks: an iterable of ``(scores float[rows, classes], labels 0/1 [rows, classes])``;
        iterated twice (a range pass, then the counting pass) unless ``score_range`` is
        given, so a one-shot iterator needs ``score_range``.
      bins: equal cells per class.
      score_range: ``(low, high)``: two numbers, one range for every class, or two
        float ``[classes]`` arrays (or a number and an array), a range per class; each
        finite with ``low < high``. Every score must lie in its class's range. None: each
        class's own range over the rows.
      all_processes: the rows are spread over every process of a multi-process JAX run
        (``jax.distributed``, one call on each process, each with its own chunks): see
        :func:`histogram_pass`.

    Returns:
      :class:`Histogram`.
    """
    if all_processes:
        return _histogram_of_all_processes(lambda: chunks, bins, score_range)
    validation.bins(bins, 1)
    if score_range is None:
        if iter(chunks) is chunks:
            raise ValueError("score_range: required when chunks is a one-shot iterator")
        local = _score_range(chunks)
        return _count(chunks, bins, local.low, local.high, given=False).histogram
    low, high = _range_of(score_range)
    return _count(chunks, bins, low, high, given=True).histogram


def histogram_pass(
    scores,
    labels,
    *,
    bins: int = DEFAULT_BINS,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    score_range=None,
    all_processes: bool = False,
) -> Histogram:
    """:class:`Histogram` of scores and labels given as ``.npy`` paths or arrays.

    Args:
      scores: float ``[n, classes]``: a ``.npy`` path (read in chunks) or an array
        (``np.memmap`` included).
      labels: 0/1 or bool ``[n, classes]``, the same.
      bins: equal cells per class.
      chunk_rows: rows read at a time.
      score_range: ``(low, high)``, two numbers or two float ``[classes]`` arrays; see
        :func:`histogram_of_chunks`.
      all_processes: True on every process of a multi-process JAX run
        (``jax.distributed``; :func:`jaxthresh.sharding.initialize`), each passing its own
        rows (its own files; ``[0, classes]`` arrays for none): every process returns the
        same histogram, that of all processes' rows together (equal to this function's
        histogram of the rows concatenated, in one process). Without ``score_range``,
        the processes first agree on each class's lowest and highest score over all of
        them, so that their cells agree; with one, it must be the same on every process.
        Only small arrays cross between processes (per-class ranges, then each process's
        ``[classes, bins]`` count tables, added by :func:`jaxthresh.merge_histograms`),
        never rows. Every process must call it (with the same ``bins``); a bad input on
        one process (or no rows on any) raises a ``ValueError`` on every process, the
        others' naming the process at fault, so that none waits forever. In a
        one-process run it is the plain pass.
    """
    if all_processes:
        return _histogram_of_all_processes(
            lambda: NpyChunks(scores, labels, chunk_rows, empty_ok=True), bins, score_range
        )
    return histogram_of_chunks(
        NpyChunks(scores, labels, chunk_rows), bins=bins, score_range=score_range
    )


# -- Many processes --------------------------------------------------------------------------


def _agreed(values: np.ndarray, name: str, what: str) -> int:
    """The one value of ``values`` (one per process; -1: none known there) or a
    ``ValueError`` naming the processes that differ."""
    known = [(process, int(v)) for process, v in enumerate(values) if v >= 0]
    first_process, first = known[0]
    for process, value in known[1:]:
        if value != first:
            raise ValueError(
                f"{name}: process {process} has {value} {what}, process {first_process} "
                f"{first}; every process must give the same"
            )
    return first


def _histogram_of_all_processes(open_chunks, bins, score_range) -> Histogram:
    """:func:`histogram_of_chunks` of ``open_chunks()`` over every process (see
    :func:`histogram_pass`): agree on the classes, bins and cells, count, merge."""
    given = score_range is not None
    local, error, summary = _Local(None, 0), None, None
    try:
        validation.bins(bins, 1)
        chunks = open_chunks()
        if given:
            span = _range_of(score_range)
            local = _count(chunks, bins, *span, given=True, empty_ok=True)
        else:
            if iter(chunks) is chunks:
                raise ValueError("score_range: required when chunks is a one-shot iterator")
            local = _score_range(chunks, empty_ok=True)
        if local.classes is None and isinstance(chunks, NpyChunks):
            local = local._replace(classes=chunks.shape[1])
        # Classes (-1: unknown here), rows, bins, values per class of the range (-1: one).
        per_class = max(v.shape[0] if v.ndim == 1 else -1 for v in span) if given else -1
        classes = -1 if local.classes is None else local.classes
        summary = np.asarray([classes, local.rows, bins, per_class], np.int32)
    except Exception as caught:  # shared below, so that no process waits for this one
        error = caught
    summary = exchanged(error, summary, np.full(4, -1, np.int32))
    if summary[:, 1].astype(np.int64).sum() == 0:
        raise ValueError("scores: no rows on any process")
    classes = _agreed(summary[:, 0], "scores", "classes")
    bins = _agreed(summary[:, 2], "bins", "bins")
    validation.bins(bins, classes)
    if given:
        other = [p for p, length in enumerate(summary[:, 3]) if length not in (-1, classes)]
        if other:
            raise ValueError(
                f"score_range: process {other[0]} gives {summary[other[0], 3]} values per "
                f"class for scores of {classes} classes"
            )
        low, high = (_per_class(v, classes) for v in span)
        histogram = local.histogram
        if histogram is None:  # no rows here
            histogram = _empty(classes, bins, cells_of(low, high, bins))
        ranges, tables = exchanged(None, (np.stack([low, high]), _host(histogram)), None)
        for process in range(1, len(ranges)):
            if not np.array_equal(ranges[process], ranges[0]):
                raise ValueError(
                    f"score_range: process {process} gives another range than process 0; "
                    "every process must give the same"
                )
        return _merged(tables)
    # Each class's range over every process's rows, then the counting pass on its cells.
    low = np.full(classes, np.inf, np.float32) if local.low is None else local.low
    high = np.full(classes, -np.inf, np.float32) if local.high is None else local.high
    ranges = exchanged(None, np.stack([low, high]).astype(np.float32), None)
    low, high = ranges[:, 0].min(axis=0), ranges[:, 1].max(axis=0)
    cells = cells_of(low, high, bins)
    counted, error = None, None
    try:
        counted = _count(chunks, bins, low, high, given=False, empty_ok=True).histogram
    except Exception as caught:
        error = caught
    empty = _host(_empty(classes, bins, cells))
    tables = exchanged(error, empty if counted is None else _host(counted), empty)
    return _merged(tables)


def _empty(classes: int, bins: int, cells) -> Histogram:
    """The histogram of no rows on ``cells``."""
    zeros = np.zeros((classes, bins), np.int32)
    return Histogram(*cells, zeros, zeros, np.full(classes, -np.inf, np.float32))


def _host(histogram: Histogram) -> Histogram:
    """A histogram's fields as NumPy arrays (to send to the other processes)."""
    return Histogram(*(np.asarray(jax.device_get(v)) for v in histogram))


def _merged(stacked: Histogram) -> Histogram:
    """The merge of every process's histogram (fields stacked along a first axis)."""
    return merge_histograms(
        [Histogram(*(field[p] for field in stacked)) for p in range(len(stacked.counts))]
    )


__all__ = ["NpyChunks", "fail_together", "histogram_of_chunks", "histogram_pass"]
