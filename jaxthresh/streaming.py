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
``score_range`` is given (``(0.0, 1.0)`` for sigmoid outputs); a one-shot iterator needs it.
A score outside a given range is an error.

Every chunk is checked as the in-memory fits check their inputs (finite scores, 0/1
labels), with the chunk's rows named in the message.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh.core import validation
from jaxthresh.core.histogram import Histogram, cell_counts, cells_of

DEFAULT_BINS = 1024
DEFAULT_CHUNK_ROWS = 8192


@jax.jit
def _chunk_range(scores: jax.Array):
    """Per-class minimum and maximum of float32[rows, classes]. They also check the chunk:
    a NaN makes both NaN, and an infinite score is one of them."""
    return jnp.min(scores, axis=0), jnp.max(scores, axis=0)


@functools.partial(jax.jit, static_argnames=("bins",))
def _chunk_histogram(scores, labels, low, width, *, bins):
    """One chunk's ``(counts, positives)`` and :func:`_chunk_range`."""
    counts, positives = cell_counts(scores, labels, None, low, width, cells=bins)
    return counts, positives, *_chunk_range(scores)


def _finite(scores: np.ndarray, lowest, highest, where: str) -> None:
    """Raises the not-finite error of a chunk whose per-class ``lowest`` or ``highest``
    score is not finite, rows counted from its start."""
    if not np.all(np.isfinite(lowest) & np.isfinite(highest)):
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
    """

    def __init__(self, scores, labels, chunk_rows: int = DEFAULT_CHUNK_ROWS):
        self.chunk_rows = validation.positive_int(chunk_rows, "chunk_rows")
        self._scores = _open(scores, "scores")
        self._labels = _open(labels, "labels")
        if self._labels.shape != self._scores.shape:
            raise ValueError(
                f"labels: shape {self._labels.shape} does not match scores {self._scores.shape}"
            )
        if len(self._scores.shape) != 2 or 0 in self._scores.shape:
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


def _chunks(chunks: Iterable) -> Iterator[tuple[validation.Rows, str]]:
    """The checked, non-empty chunks of ``chunks`` with the rows they hold; refuses no rows
    at all and 2**31 rows or more."""
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
    if rows == 0:
        raise ValueError("scores: no rows")


def _score_range(chunks: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """Per-class lowest and highest scores, from a first pass over the chunks."""
    low, high = None, None
    for rows, where in _chunks(chunks):
        chunk_low, chunk_high = jax.device_get(_chunk_range(rows.scores))
        _finite(rows.scores, chunk_low, chunk_high, where)
        low = chunk_low if low is None else np.minimum(low, chunk_low)
        high = chunk_high if high is None else np.maximum(high, chunk_high)
    return low, high


def histogram_of_chunks(
    chunks: Iterable,
    *,
    bins: int = DEFAULT_BINS,
    score_range: tuple[float, float] | None = None,
) -> Histogram:
    """One pass over ``(scores, labels)`` chunks of rows: their :class:`Histogram`.

    Args:
      chunks: an iterable of ``(scores float[rows, classes], labels 0/1 [rows, classes])``;
        iterated twice (a range pass, then the counting pass) unless ``score_range`` is
        given, so a one-shot iterator needs ``score_range``.
      bins: equal cells per class.
      score_range: ``(low, high)`` for every class, or None for each class's own range.
        Every score must lie in it.

    Returns:
      :class:`Histogram`.
    """
    validation.bins(bins, 1)
    if score_range is None:
        if iter(chunks) is chunks:
            raise ValueError("score_range: required when chunks is a one-shot iterator")
        low, high = _score_range(chunks)
    else:
        try:
            low, high = (np.float32(v) for v in score_range)
        except (TypeError, ValueError):
            raise ValueError(f"score_range: expected (low, high), got {score_range!r}") from None
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"score_range: expected finite low < high, got {score_range!r}")
    cells, counts, positives, highest = None, 0, 0, -np.inf
    for rows, where in _chunks(chunks):
        if cells is None:
            classes = rows.scores.shape[1]
            validation.bins(bins, classes)
            cells = cells_of(
                *(np.broadcast_to(np.float32(v), (classes,)) for v in (low, high)), bins
            )
        chunk_counts, chunk_positives, lowest, chunk_highest = _chunk_histogram(
            rows.scores, rows.labels, *cells, bins=bins
        )
        _finite(rows.scores, lowest, chunk_highest, where)
        if score_range is not None and bool(jnp.any(lowest < low) | jnp.any(chunk_highest > high)):
            raise ValueError(
                f"score_range: scores at {where} lie outside {score_range!r} "
                f"(from {float(jnp.min(lowest))} to {float(jnp.max(chunk_highest))})"
            )
        counts = counts + chunk_counts
        positives = positives + chunk_positives
        highest = jnp.maximum(highest, chunk_highest)
    return Histogram(*cells, counts, positives, highest)


def histogram_pass(
    scores,
    labels,
    *,
    bins: int = DEFAULT_BINS,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    score_range: tuple[float, float] | None = None,
) -> Histogram:
    """:class:`Histogram` of scores and labels given as ``.npy`` paths or arrays.

    Args:
      scores: float ``[n, classes]``: a ``.npy`` path (read in chunks) or an array
        (``np.memmap`` included).
      labels: 0/1 or bool ``[n, classes]``, the same.
      bins: equal cells per class.
      chunk_rows: rows read at a time.
      score_range: see :func:`histogram_of_chunks`.
    """
    return histogram_of_chunks(
        NpyChunks(scores, labels, chunk_rows), bins=bins, score_range=score_range
    )


__all__ = ["NpyChunks", "histogram_of_chunks", "histogram_pass"]
