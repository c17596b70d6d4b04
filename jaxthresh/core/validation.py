"""Checks at the public boundary, so that bad input fails early with a clear message.

Two kinds of check, kept apart so that every public function also works inside a caller's
``jax.jit`` and ``jax.vmap``:

* **shapes and dtypes** (:func:`as_rows`, :func:`per_class`): known at trace time, always
  checked;
* **values** (NaN or infinite scores, labels outside {0, 1}, negative weights): checked only
  on concrete inputs. NumPy arrays are checked with NumPy; concrete JAX arrays with one
  jitted reduction whose few scalars come back to the host (the arrays never do). Under
  tracing the values are unknown and checking them is the caller's duty.

Every failure is a ``ValueError`` whose message starts with the argument's name and says
what is wrong, so that command-line tools can print it as one line.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh import objectives
from jaxthresh.core import reductions

AVERAGES = objectives.AVERAGES


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["scores", "labels", "sample_weight"],
    meta_fields=["max_positives", "total_positives"],
)
@dataclasses.dataclass(frozen=True, eq=False)
class Rows:
    """Weighted rows: the data every method fits on (a pytree).

    Attributes:
      scores: float32[n, classes].
      labels: bool[n, classes].
      sample_weight: None (every row once), the weight of each row, ``[n]``, or of each
        label, ``[n, classes]`` (0 leaves that label out of every count). Its dtype says
        what kind of weights they are, which kernels use statically: bool (in or out:
        folds, padding, masked labels), int32 (multiplicities: weight k is the row
        repeated k times) or float32 (real weights). Counts are int32 for bool and int32
        weights, float32 sums for float32 ones.
      max_positives: static: at least the number of rows of weight > 0 that are positive in
        any one class (so that kernels can hold the positive rows of each class in that
        many slots), or None where unknown (inside a caller's ``jit``).
      total_positives: static: the same over all classes together (the positive scores of
        weight > 0), or None where unknown.
    """

    scores: jax.Array
    labels: jax.Array
    sample_weight: jax.Array | None = None
    max_positives: int | None = None
    total_positives: int | None = None

    @property
    def weights(self) -> jax.Array:
        """The row weights, ``[n]``: ``sample_weight``, or bool ones where it is None (a
        constant inside a jitted fit, which XLA folds away)."""
        if self.sample_weight is None:
            return jnp.ones(self.scores.shape[:1], bool)
        return self.sample_weight

    @property
    def element_weights(self) -> jax.Array:
        """The weight of each score, broadcastable to ``[n, classes]``: ``[n, 1]`` for row
        weights, ``[n, classes]`` for per-label ones."""
        return element_shaped(self.weights)

    @property
    def positive_slots(self) -> int:
        """Slots enough for the positive rows of any class: ``max_positives``, at most n."""
        n_rows = self.scores.shape[0]
        return n_rows if self.max_positives is None else min(self.max_positives, n_rows)

    @property
    def pooled_positive_slots(self) -> int:
        """Slots enough for the positive scores of all classes pooled: ``total_positives``,
        at most ``n * classes``."""
        size = self.scores.shape[0] * self.scores.shape[1]
        return size if self.total_positives is None else min(self.total_positives, size)

    def _replace(self, **changes) -> Rows:
        """A copy with some fields changed (``weights=`` sets ``sample_weight``)."""
        if "weights" in changes:
            changes["sample_weight"] = changes.pop("weights")
        return dataclasses.replace(self, **changes)

    def __iter__(self):
        """``scores, labels, weights = rows``."""
        return iter((self.scores, self.labels, self.weights))


def element_shaped(weights: jax.Array) -> jax.Array:
    """Row weights ``[n]`` as ``[n, 1]``; per-label weights ``[n, classes]`` as they are."""
    return weights[:, None] if weights.ndim == 1 else weights


def is_traced(*values) -> bool:
    """Whether any of ``values`` is a tracer (inside ``jit``, ``vmap``, ``grad``...)."""
    return any(isinstance(v, jax.core.Tracer) for v in jax.tree.leaves(values))


def _dtype_of(value, name: str) -> np.dtype:
    """The dtype of an array-like, refusing objects, strings and complex numbers."""
    dtype = getattr(value, "dtype", None)
    dtype = np.dtype(np.asarray(value).dtype if dtype is None else dtype)
    # jnp.issubdtype knows JAX's own floats (bfloat16, float8...), which NumPy does not.
    if dtype.hasobject or not (jnp.issubdtype(dtype, jnp.number) or dtype == np.bool_):
        raise ValueError(f"{name}: expected a numeric array, got dtype {dtype}")
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise ValueError(f"{name}: expected real numbers, got dtype {dtype}")
    return dtype


def _array(value, name: str):
    """``value`` as a NumPy array (NumPy input and Python lists) or as it is (JAX arrays
    and tracers), after the dtype check."""
    if not isinstance(value, jax.Array):
        try:
            value = np.asarray(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}: expected an array, got {type(value).__name__}") from error
    _dtype_of(value, name)
    return value


def _matrix(value, name: str):
    value = _array(value, name)
    if value.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array [rows, classes], got {value.ndim}-D shape {value.shape}"
        )
    return value


#: NumPy value checks run on blocks of rows of about this many bytes, so that their
#: temporaries stay small whatever the size of the input.
BLOCK_BYTES = 1 << 24


def row_blocks(values, block_bytes: int | None = None):
    """``(first row, values[first row:...])`` over consecutive blocks of rows (views) of
    about ``block_bytes`` (default :data:`BLOCK_BYTES`), at least one row each."""
    block_bytes = BLOCK_BYTES if block_bytes is None else block_bytes
    row_bytes = max(1, int(np.prod(values.shape[1:], dtype=np.int64)) * values.dtype.itemsize)
    step = max(1, block_bytes // row_bytes)
    for start in range(0, values.shape[0], step):
        yield start, values[start : start + step]


def _not_finite(array, xp):
    if xp is np and array.dtype in (np.float32, np.float64):
        with np.errstate(over="ignore"):
            finite = np.isfinite(array) & (np.abs(array) <= np.finfo(np.float32).max)
        return ~finite
    return ~xp.isfinite(array.astype(xp.float32))


def _not_binary(array, xp):
    return (array != 0) & (array != 1)


def _negative_or_not_finite(array, xp):
    return (array < 0) | ~xp.isfinite(array.astype(xp.float32))


def _flushed(array, xp):
    """Non-zero values below float32's smallest normal number, which XLA counts as 0
    (NumPy only: XLA itself would flush them before comparing)."""
    return (array != 0) & (xp.abs(array.astype(xp.float32)) < xp.finfo(xp.float32).tiny)


def _subnormal(array, xp=jnp):
    """:func:`_flushed` of float32 JAX arrays, on the bits (XLA flushes the values)."""
    bits = jax.lax.bitcast_convert_type(array.astype(jnp.float32), jnp.int32)
    return ((bits & 0x7F800000) == 0) & ((bits & 0x007FFFFF) != 0)


def host_array(array) -> np.ndarray:
    """A concrete array as NumPy on this host: for a JAX array split over the devices of
    several processes, every process's part, gathered (every process must call it)."""
    if not isinstance(array, jax.Array) or array.is_fully_addressable:
        return np.asarray(jax.device_get(array))
    from jax.experimental import multihost_utils

    sent = array.astype(jnp.uint8) if array.dtype == jnp.bool_ else array  # gloo: no bool
    gathered = np.asarray(multihost_utils.process_allgather(sent, tiled=True))
    return gathered.astype(bool) if array.dtype == jnp.bool_ else gathered


def host_row_totals(weights) -> np.ndarray:
    """float64[n], the total weight of each row of concrete weights ``[n]`` or
    ``[n, classes]``, exactly; for a JAX array split over the devices of several
    processes, each process sums the rows it holds and only the ``[n]`` totals are
    gathered (every process must call it)."""
    if not isinstance(weights, jax.Array) or weights.is_fully_addressable:
        weights = np.asarray(jax.device_get(weights))
        return weights.reshape(len(weights), -1).sum(axis=1, dtype=np.float64)
    from jax.experimental import multihost_utils

    own = np.zeros(weights.shape[0], np.float64)
    for shard in weights.addressable_shards:
        if shard.replica_id == 0:
            data = np.asarray(shard.data)
            own[shard.index[0]] += data.reshape(len(data), -1).sum(axis=1, dtype=np.float64)
    return np.asarray(multihost_utils.process_allgather(own)).reshape(-1, len(own)).sum(0)


def method_and_weights(method, sample_weight):
    """``(method, sample_weight)`` of functions that take ``(scores, labels, method,
    sample_weight)``, given in either order: a name is never a weight, and the three
    arrays of :func:`jaxthresh.shard_rows` come first in ``f(*sharded, "sgl")``."""
    if isinstance(sample_weight, str) and not isinstance(method, str):
        return sample_weight, method
    return method, sample_weight


def _sums_over_processes(array: jax.Array) -> np.ndarray:
    """float64 sums over the rows (axis 0) of a JAX array split over the devices of
    several processes: each process sums the shards it holds (one replica of each), then
    the processes' sums are added (every process must call it)."""
    from jax.experimental import multihost_utils

    own = sum(
        (
            np.sum(np.asarray(shard.data), axis=0, dtype=np.float64)
            for shard in array.addressable_shards
            if shard.replica_id == 0
        ),
        np.zeros(array.shape[1:], np.float64),
    )
    gathered = np.asarray(multihost_utils.process_allgather(own))
    return gathered.reshape(-1, *array.shape[1:]).sum(axis=0)


def first_of(bad, xp=jnp):
    """``(how many, flat index of the first)`` True elements of the bool array ``bad``."""
    return xp.sum(bad), xp.argmax(bad.ravel())


def not_finite(array, xp=jnp):
    """``first_of`` the elements of a score array that are NaN or infinite as float32."""
    return first_of(_not_finite(array, xp), xp)


_JITTED = {
    predicate: jax.jit(lambda array, predicate=predicate: first_of(predicate(array, jnp), jnp))
    for predicate in (_not_finite, _not_binary, _negative_or_not_finite, _subnormal)
}


def _surely_none(block: np.ndarray, predicate) -> bool:
    """Whether ``predicate`` certainly holds nowhere in a NumPy block, from its minimum and
    maximum alone (two vectorized passes, no temporaries; NaN makes both NaN); False
    where they cannot tell."""
    if predicate is _not_finite and block.dtype in (np.float32, np.float64):
        limit = np.finfo(np.float32).max
        return bool(-limit <= block.min() and block.max() <= limit)
    if predicate is _not_binary and block.dtype.kind in "iu":
        return bool(block.min() >= 0 and block.max() <= 1)
    return False


def _bad_values(array, predicate) -> tuple[int, tuple[int, ...]]:
    """``(how many, index of the first)`` elements of a concrete array where ``predicate``
    holds: with NumPy for NumPy arrays, else with one jitted reduction (only two scalars
    reach the host)."""
    if array.size == 0:
        return 0, ()
    if not isinstance(array, np.ndarray):
        count, first = jax.device_get(_JITTED[predicate](array))
        return int(count), tuple(int(i) for i in np.unravel_index(int(first), array.shape))
    total, found = 0, ()
    for start, block in row_blocks(array):
        if _surely_none(block, predicate):
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            bad = predicate(block, np)
        if bad.any():
            count, first = first_of(bad, np)
            total += int(count)
            if not found:
                index = np.unravel_index(int(first), block.shape)
                found = (start + int(index[0]), *(int(i) for i in index[1:]))
    return total, found


def _value_at(array, index):
    return np.asarray(array[index]).item()


def not_finite_error(count: int, first: tuple[int, int], value) -> ValueError:
    """The error for ``count`` scores that are NaN or infinite, the first at ``first``."""
    return ValueError(
        f"scores: {count} value(s) are NaN or infinite as float32 (first at row "
        f"{first[0]}, class {first[1]}: {value})"
    )


def checked_scores(scores, check_values: bool = True):
    """:func:`as_scores` without the conversion: the array itself, checked."""
    return _checked_scores(scores, check_values)


def _checked_scores(scores, check_values: bool = True):
    scores = _matrix(scores, "scores")
    if 0 in scores.shape:
        raise ValueError(
            f"scores: is empty (shape {scores.shape}); need at least one row and class"
        )
    if check_values and not is_traced(scores) and jnp.issubdtype(scores.dtype, jnp.floating):
        count, first = _bad_values(scores, _not_finite)
        if count:
            raise not_finite_error(count, first, _value_at(scores, first))
    return scores


def check_label_values(labels, name: str = "labels") -> None:
    """The value check of :func:`as_labels` alone: every label 0 or 1 (concrete input)."""
    if labels.dtype != np.bool_:
        _refuse_values(labels, _not_binary, f"{name}: values must be 0 or 1")


def _refuse_values(array, predicate, what: str) -> None:
    """A ``ValueError`` saying ``what``, the first element of a concrete ``array`` where
    ``predicate`` holds, where it is and how many there are; nothing if there is none."""
    count, first = _bad_values(array, predicate)
    if count:
        where = f"row {first[0]}" + (f", class {first[1]}" if len(first) > 1 else "")
        raise ValueError(
            f"{what}, found {_value_at(array, first)!r} at {where} ({count} such values)"
        )


def as_scores(scores, *, check_values: bool = True):
    """Checks a score matrix: real, ``[n, classes]`` with n, classes >= 1, finite as
    float32 (when concrete and ``check_values``; else the caller checks). Returns it as
    float32: a NumPy array stays a NumPy array, anything else becomes a JAX array."""
    scores = _checked_scores(scores, check_values)
    if isinstance(scores, np.ndarray):
        with np.errstate(over="ignore"):
            return scores.astype(np.float32, copy=False)
    return jnp.asarray(scores, jnp.float32)


def checked_labels(
    labels, *, shape: tuple[int, ...] | None = None, name: str = "labels", against: str = "scores"
):
    """:func:`as_labels` without the conversion: the array itself, checked."""
    labels = _matrix(labels, name)
    if shape is not None and labels.shape != tuple(shape):
        raise ValueError(
            f"{name}: shape {labels.shape} does not match {against} shape {tuple(shape)}"
        )
    if not is_traced(labels):
        check_label_values(labels, name)
    return labels


def as_labels(
    labels, *, shape: tuple[int, ...] | None = None, name: str = "labels", against: str = "scores"
) -> jax.Array:
    """Checks 0/1 labels (bool or numbers) of ``shape`` (that of ``against``); 0 or 1 when
    concrete. Returns bool[n, classes]."""
    labels = checked_labels(labels, shape=shape, name=name, against=against)
    return jnp.asarray(labels).astype(bool)


#: The largest count of rows of bool or int weights: counts are exact int32.
MAX_COUNT = 2**31 - 1

#: The largest total of float row weights (times the classes where counts are pooled):
#: their counts are float32 sums, which F-beta multiplies by up to ``1 + beta**2``
#: (:data:`BETA_RANGE`), and float32 ends at 3.4e38.
MAX_FLOAT_TOTAL = 1e30

#: The betas accepted (:data:`jaxthresh.objectives.BETA_RANGE`).
BETA_RANGE = objectives.BETA_RANGE

_SCALE_HINT = "(multiplying every weight by one number changes no F-beta)"


def as_weights(
    sample_weight, n_rows: int, n_classes: int = 1, *, pooled: bool = True, empty_ok: bool = False
) -> jax.Array:
    """The weights of :class:`Rows` from ``sample_weight``: None (every row in), or
    non-negative bool, integer or float weights of each row, ``[n_rows]``, or of each
    label, ``[n_rows, n_classes]`` (0 leaves the label out). When concrete, they are also
    checked finite, not all 0 (unless ``empty_ok``: for counts, where none is an answer),
    and small enough for the counts, pooled over the classes (``pooled``) or per class, to
    stay exact (:func:`check_weight_totals`)."""
    if sample_weight is None:
        return jnp.ones(n_rows, bool)
    sample_weight = _array(sample_weight, "sample_weight")
    if sample_weight.shape not in ((n_rows,), (n_rows, n_classes)):
        raise ValueError(
            f"sample_weight: expected shape ({n_rows},), one weight per row, or "
            f"({n_rows}, {n_classes}), one per label, got {sample_weight.shape}"
        )
    if not is_traced(sample_weight):
        if sample_weight.dtype != np.bool_:
            _refuse_values(
                sample_weight, _negative_or_not_finite, "sample_weight: must be finite and >= 0"
            )
        check_weight_totals(sample_weight, n_classes, pooled=pooled, empty_ok=empty_ok)
    return row_weights(sample_weight)


def check_weight_totals(
    sample_weight, n_classes: int = 1, *, pooled: bool = True, empty_ok: bool = False
) -> None:
    """Refuses concrete, non-negative weights, of rows ``[n]`` or of labels
    ``[n, classes]``, that leave nothing to count (unless ``empty_ok``), that XLA would
    count as 0 (non-zero floats below float32's smallest normal number), or whose total
    the counts cannot hold: :data:`MAX_COUNT` for bool and int weights (exact int32
    counts), :data:`MAX_FLOAT_TOTAL` for float weights (float32 sums). The total is over
    every label where counts are ``pooled`` over the classes (row weights: times
    ``n_classes``), else that of the heaviest class."""
    if isinstance(sample_weight, jax.Array) and not sample_weight.is_fully_addressable:
        # Rows of several processes: each sums its own; nothing but sums leaves a process.
        weights = sample_weight
        column_sums = _sums_over_processes(sample_weight)
        flushed = _subnormal
    else:
        weights = np.asarray(jax.device_get(sample_weight))
        column_sums = np.sum(weights, axis=0, dtype=np.float64)
        flushed = _flushed
    floats = jnp.issubdtype(weights.dtype, jnp.floating)
    count, first = _bad_values(weights, flushed) if floats else (0, ())
    if count:
        where = ", class ".join(str(i) for i in first)
        raise ValueError(
            f"sample_weight: {count} weight(s) are not 0 but below float32's smallest normal "
            f"number ({np.finfo(np.float32).tiny:.3g}), which XLA counts as 0 (first at row "
            f"{where}: {_value_at(weights, first)!r}); scale the weights up {_SCALE_HINT}"
        )
    # float64 sums of integers are exact below 2**53, far above any total accepted here.
    total = float(np.sum(column_sums))
    if total == 0 and not empty_ok:
        raise ValueError("sample_weight: every weight is 0: no row is left to fit or score")
    shown = ".4g" if floats else ".0f"
    if weights.ndim == 2:  # per label
        per_class = column_sums
        counted = total if pooled else float(per_class.max())
        what = (
            f"the weights of every label total {counted:{shown}}"
            if pooled
            else f"the weights of class {per_class.argmax()} total {counted:{shown}}"
        )
    else:
        counted = total * n_classes if pooled else total
        what = f"the weights total {total:{shown}}"
        if pooled and n_classes > 1:
            what += f" over {n_classes} classes ({counted:.4g} in all)"
    if floats and counted > MAX_FLOAT_TOTAL:
        raise ValueError(
            f"sample_weight: {what}, more than float32 counts hold ({MAX_FLOAT_TOTAL:.0e}); "
            f"divide them by a constant {_SCALE_HINT}"
        )
    if not floats and counted > MAX_COUNT:
        raise ValueError(
            f"sample_weight: {what}, more than the exact int32 counts hold (2**31 - 1); "
            "divide them by a common factor, or pass float weights (counted as float32 sums)"
        )


def check_entries(n_rows: int, n_classes: int) -> None:
    """Refuses ``n_rows x n_classes`` scores whose pooled counts (over every class) the
    exact int32 counts of a fit cannot hold (a shape check: also at trace time)."""
    if n_rows * n_classes > MAX_COUNT:
        raise ValueError(
            f"scores: {n_rows} rows x {n_classes} classes is {n_rows * n_classes} scores, "
            "more than the exact int32 counts of a fit hold (2**31 - 1); fit on a sample of "
            "the rows"
        )


def beta(value, name: str = "beta") -> jax.Array:
    """F-beta's beta as float32: a number in :data:`BETA_RANGE` (when concrete)."""
    checked = scalar(value, name)
    low, high = BETA_RANGE
    if not is_traced(value) and not low <= float(np.asarray(value)) <= high:
        raise ValueError(
            f"{name}: must be between {low:g} and {high:g}, got {value!r} (beyond them F-beta "
            "is precision or recall to float32's precision, and beta**2 leaves float32's "
            "range)"
        )
    return checked


def row_weights(sample_weight) -> jax.Array:
    """Row weights in the dtype :class:`Rows` gives them: bool stays bool, integers become
    int32, floats float32."""
    sample_weight = jnp.asarray(sample_weight)
    if sample_weight.dtype == jnp.bool_:
        return sample_weight
    if jnp.issubdtype(sample_weight.dtype, jnp.integer):
        return sample_weight.astype(jnp.int32)
    return sample_weight.astype(jnp.float32)


def as_rows(scores, labels, sample_weight=None, *, empty_ok: bool = False) -> Rows:
    """Checks and converts a problem to :class:`Rows`.

    Args:
      scores: real ``[n, classes]`` (NumPy or JAX; converted to float32), n, classes >= 1.
      labels: bool or 0/1 numbers, the shape of ``scores``.
      sample_weight: None (every row once), or ``[n]`` non-negative weights: bool (row in
        or out), integers (multiplicities) or floats.

    Returns:
      :class:`Rows`. Shapes and dtypes are checked always; values only on concrete inputs.
    """
    scores = device_copy(as_scores(scores))
    labels = device_copy(checked_labels(labels, shape=scores.shape).astype(bool))
    n_rows, n_classes = scores.shape
    check_entries(n_rows, n_classes)
    weights = (
        None
        if sample_weight is None
        else as_weights(sample_weight, n_rows, n_classes, empty_ok=empty_ok)
    )
    rows = Rows(scores, labels, weights)
    if is_traced(rows):
        return rows
    per_class = np.asarray(positives_per_class(rows.labels, rows.weights), np.int64)
    largest, total = int(per_class.max(initial=0)), int(per_class.sum())
    return rows._replace(
        max_positives=min(n_rows, _power_of_two_above(largest)),
        total_positives=min(n_rows * n_classes, _power_of_two_above(total)),
    )


def device_copy(array) -> jax.Array:
    """``array`` as a JAX array. On CPU a NumPy array is copied once, into a 64-byte
    aligned buffer that only the result holds: JAX on CPU adopts such a buffer instead of
    copying it, and copies any other at about a third of NumPy's speed. Elsewhere (and
    for JAX arrays) ``jnp.asarray``."""
    if not isinstance(array, np.ndarray) or jax.default_backend() != "cpu":
        return jnp.asarray(array)
    aligned = aligned_empty(array.shape, array.dtype)
    np.copyto(aligned, array)
    return jax.device_put(aligned)


def aligned_empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialized NumPy array in a 64-byte aligned buffer of its own, which JAX on
    CPU adopts rather than copies (see :func:`device_copy`)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buffer = np.empty(nbytes + 64, np.uint8)
    start = -buffer.ctypes.data % 64
    return buffer[start : start + nbytes].view(dtype).reshape(shape)


def _power_of_two_above(count: int) -> int:
    """The least power of two >= ``count`` (bounds rounded so that problems of similar sizes
    share compiled programs)."""
    return 1 << max(count - 1, 0).bit_length()


@jax.jit
def positives_per_class(labels, weights):
    """int32[classes]: the positive rows of weight > 0 of each class (row weights ``[n]``
    or per-label ``[n, classes]``)."""
    return reductions.count_true(labels & (element_shaped(weights) > 0))


def per_class(value, n_classes: int, name: str, *, positive: bool = False) -> jax.Array:
    """A scalar or ``[classes]`` real value as float32[classes]; finite (and > 0 where
    ``positive``) when concrete."""
    try:
        dtype = _dtype_of(value, name)
    except ValueError:
        raise ValueError(
            f"{name}: expected a real number or array of them, got {value!r}"
        ) from None
    if dtype == np.bool_:
        raise ValueError(f"{name}: expected a real number or array of them, got {value!r}")
    shape = np.shape(value)
    if len(shape) > 1 or (len(shape) == 1 and shape[0] != n_classes):
        raise ValueError(
            f"{name}: expected a scalar or one value per class ({n_classes}), got shape {shape}"
        )
    if not is_traced(value):
        with np.errstate(over="ignore", invalid="ignore"):
            single = np.asarray(value).astype(np.float32)
        if not np.isfinite(single).all():
            raise ValueError(f"{name}: must be finite as float32, got {value!r}")
        if positive and (single <= 0).any():
            raise ValueError(f"{name}: must be > 0, got {value!r}")
    return jnp.broadcast_to(jnp.asarray(value, jnp.float32), (n_classes,))


def scalar(value, name: str, *, positive: bool = True) -> jax.Array:
    """A real scalar as float32: finite (and > 0 where ``positive``) when concrete."""
    wanted = "a positive number" if positive else "a real number"
    if isinstance(value, bool) or np.shape(value) != ():
        raise ValueError(f"{name}: expected {wanted}, got {value!r}")
    try:
        _dtype_of(value, name)
    except ValueError:
        raise ValueError(f"{name}: expected {wanted}, got {value!r}") from None
    if not is_traced(value):
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            single = np.float32(value)
        if not np.isfinite(single) or (positive and single <= 0):
            condition = "finite and > 0" if positive else "finite"
            raise ValueError(f"{name}: must be {condition} as float32, got {value!r}")
    return jnp.asarray(value, jnp.float32)


def positive_int(value, name: str, *, minimum: int = 1) -> int:
    """A Python int in ``[minimum, 2**31)``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected a whole number >= {minimum}, got {value!r}")
    if not minimum <= value < 2**31:
        raise ValueError(f"{name}: must be >= {minimum} and < 2**31, got {value!r}")
    return int(value)


def boolean(value, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def choice(value, choices: tuple[str, ...], name: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: must be one of {', '.join(choices)}; got {value!r}")
    return value


def unit_interval(value, name: str) -> float:
    """A Python float in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")
    return float(value)


def prng_key(key, name: str = "key") -> jax.Array:
    """One ``jax.random`` key: a typed key (``jax.random.key(0)``) or a legacy ``uint32[2]``
    one (``jax.random.PRNGKey(0)``), returned typed."""
    if isinstance(key, jax.Array):
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ():
            return key
        if key.dtype == np.uint32 and key.shape == (2,):
            return jax.random.wrap_key_data(key)
    raise ValueError(f"{name}: expected one jax.random key, e.g. jax.random.key(0), got {key!r}")


def n_folds_for(n_folds, n_rows: int, name: str = "n_folds") -> int:
    """An int with 2 <= n_folds <= n_rows."""
    n_folds = positive_int(n_folds, name, minimum=2)
    if n_folds > n_rows:
        raise ValueError(f"{name}: {n_folds} folds need at least {n_folds} rows, got {n_rows}")
    return n_folds


def bins(value, n_classes: int, name: str = "bins") -> int | None:
    """None, or the number of histogram cells per class: an int in [1, 2**20] such that
    the ``2 * n_classes * cells`` counters of a histogram stay int32-addressable."""
    if value is None:
        return None
    cells = positive_int(value, name)
    if cells > 2**20:
        raise ValueError(f"{name}: at most 2**20 cells per class, got {value!r}")
    if 2 * n_classes * cells >= 2**31:
        raise ValueError(f"{name}: {cells} cells x {n_classes} classes is too many counters")
    return cells


def float32_merges(scores, labels) -> tuple[np.ndarray, tuple[float, float, float] | None]:
    """Where float32 cannot keep the caller's float64 scores apart: the one place that
    decides it, for NumPy float64 ``scores [n, classes]`` (other inputs: none).

    Args:
      scores: the caller's scores, ``[n, classes]``.
      labels: their 0/1 labels (NumPy, JAX or a DataFrame), the same shape.

    Returns:
      ``(rows int64[classes], example)``: per class, the rows whose score float32 rounds
      onto the value of a group that holds positive and negative rows and distinct float64
      scores (a float64 threshold could split that group, no float32 one can); and one
      such pair ``(a, b, float32 value)``, or None where there is none.
    """
    n_rows, n_classes = scores.shape
    counts = np.zeros(n_classes, np.int64)
    if not (isinstance(scores, np.ndarray) and scores.dtype == np.float64):
        return counts, None
    labels = np.asarray(jax.device_get(labels))
    example = None
    step = max(1, BLOCK_BYTES // max(1, 8 * n_rows))
    for first in range(0, n_classes, step):
        block = scores[:, first : first + step]
        with np.errstate(over="ignore", under="ignore"):
            if np.array_equal(block.astype(np.float32), block):
                continue  # float32 holds every value exactly
        columns = np.ascontiguousarray(block.T)  # [classes, n]: each class's scores in a row
        order = np.argsort(columns, axis=1)
        values = np.take_along_axis(columns, order, axis=1)  # ascending
        positive = labels[:, first : first + step].T.astype(bool)
        positive = np.take_along_axis(positive, order, axis=1)
        with np.errstate(over="ignore", under="ignore"):
            single = values.astype(np.float32)
        # Runs of equal float32 values, each within one class (flattened class by class).
        starts = np.ones(values.shape, bool)
        starts[:, 1:] = single[:, 1:] != single[:, :-1]
        offsets = np.flatnonzero(starts.ravel())
        run_of = np.cumsum(starts.ravel()) - 1
        distinct = np.zeros(values.shape, bool)
        distinct[:, 1:] = (values[:, 1:] != values[:, :-1]) & ~starts[:, 1:]
        split = (
            np.logical_or.reduceat(distinct.ravel(), offsets)
            & np.logical_or.reduceat(positive.ravel(), offsets)
            & ~np.logical_and.reduceat(positive.ravel(), offsets)
        )
        merged = split[run_of].reshape(values.shape)
        counts[first : first + block.shape[1]] = merged.sum(axis=1)
        if example is None and merged.any():
            column, row = np.argwhere(distinct & merged)[0]
            example = (values[column, row - 1], values[column, row], single[column, row])
    return counts, example
