"""Applying thresholds: predictions ``scores > thresholds``, exactly as NumPy compares,
optionally decoded with "at least k labels" / "at most k labels" rules.

NumPy input is compared with NumPy, on the caller's own values (float64 included). JAX
input is compared on the order keys of :func:`jaxthresh.core.cuts.order_keys`, which XLA
does not flush: a subnormal score above a subnormal threshold is predicted positive, as
NumPy predicts it, although XLA on CPU compares subnormal floats as zero.

**Decoding rules** (``min_labels``, ``max_labels``): a row with fewer than ``min_labels``
predicted classes gets the classes of largest margin ``score - threshold`` added; a row
with more than ``max_labels`` keeps only the ``max_labels`` of largest margin. Classes are
ranked by (predicted first, margin descending, class index ascending): predicted classes
rank above unpredicted ones by the comparison itself, never by the sign of the margin
(XLA flushes subnormal margins to zero; a float64 margin of integers may round to zero).
NumPy ranks only the rows a rule changes (a stable ``argsort`` of their margins, in
blocks of rows); JAX ranks int32 keys of every row (a traced function cannot pick rows),
with one ``argmax`` pass per class taken (:data:`ARGMAX_PASSES` at most), else
``lax.top_k`` (both take the lower index of equal keys), with no ``[classes, classes]``
temporaries.
"""

from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh.core import validation
from jaxthresh.core.cuts import order_keys


def apply_thresholds(scores, thresholds, *, min_labels: int = 0, max_labels: int | None = None):
    """Hard predictions ``scores > thresholds``, optionally with at least ``min_labels``
    and at most ``max_labels`` positives per row; works inside ``jit`` and ``vmap``.

    Args:
      scores: real ``[n, classes]``, NumPy or JAX.
      thresholds: a real scalar or ``[classes]``, finite as float32.
      min_labels: a Python int in ``[0, classes]``: a row with fewer predicted classes
        also predicts the unpredicted classes of largest margin ``score - threshold``
        until it has ``min_labels`` (e.g. 1: every row gets a label).
      max_labels: None, or a Python int ``>= max(1, min_labels)``: a row with more
        predicted classes keeps only the ``max_labels`` of largest margin.

    Returns:
      bool[n, classes] (a NumPy array for NumPy scores, else a JAX array); a score equal
      to its threshold is predicted negative. On concrete inputs the comparison is NumPy's
      ``scores > thresholds`` for the values given, in the wider of their dtypes: a NumPy
      array of float64 thresholds is compared in float64, Python numbers and lists (weakly
      typed, as NumPy treats a Python number) in the dtype of float scores. Subnormal
      floats are not flushed. JAX scores are float32: float64 NumPy thresholds are rounded
      down to the float32 at or below them, which leaves every comparison as NumPy's.

      With the rules, margins are computed in the comparison's dtype (float64 stays
      float64; integer comparisons: float64), rounded as that dtype rounds; JAX margins
      are float32, and XLA flushes subnormal ones to zero. Predicted classes always rank
      above unpredicted ones; equal margins go to the lower class index. Rows that
      satisfy both rules are left exactly as compared. With the defaults the result is
      the comparison alone.

    Raises:
      ValueError: bad scores or thresholds; ``min_labels`` not an int in
        ``[0, classes]``; ``max_labels`` neither None nor an int ``>= max(1,
        min_labels)`` (bools and floats are refused).
    """
    checked = validation.as_scores(scores)
    n_classes = checked.shape[1]
    checked_thresholds = validation.per_class(thresholds, n_classes, "thresholds")
    rules = decoding_rules(min_labels, max_labels, n_classes)
    if validation.is_traced(thresholds):
        return _decided(jnp.asarray(checked), checked_thresholds, rules)
    weak = isinstance(thresholds, numbers.Real | list | tuple)
    if isinstance(checked, np.ndarray):
        values = np.asarray(scores)
        if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number):
            values = checked  # bool, or JAX's own floats (bfloat16...): as float32
        weak &= np.issubdtype(values.dtype, np.floating)
        bounds = np.asarray(thresholds, values.dtype if weak else None)
        predicted = values > bounds
        if rules is not None:
            _decode_numpy(predicted, values, bounds, *rules)
        return predicted
    if not weak and np.asarray(thresholds).dtype == np.float64:
        checked_thresholds = jnp.asarray(float32_below(np.asarray(thresholds)))
    return _decided(jnp.asarray(checked), jnp.broadcast_to(checked_thresholds, (n_classes,)), rules)


def decoding_rules(min_labels, max_labels, n_classes: int) -> tuple[int, int] | None:
    """Checks ``min_labels`` and ``max_labels`` of :func:`apply_thresholds` for
    ``n_classes`` classes; returns ``(min_labels, max_labels)`` as ints (``max_labels`` at
    most ``n_classes``), or None where the rules cannot change any prediction (the
    defaults, or ``max_labels >= n_classes`` with ``min_labels == 0``)."""
    min_labels = validation.positive_int(min_labels, "min_labels", minimum=0)
    if min_labels > n_classes:
        raise ValueError(
            f"min_labels: {min_labels} labels per row are more than the {n_classes} classes"
        )
    if max_labels is None:
        max_labels = n_classes
    else:
        max_labels = validation.positive_int(max_labels, "max_labels", minimum=1)
        if max_labels < min_labels:
            raise ValueError(f"max_labels: {max_labels} is less than min_labels ({min_labels})")
        max_labels = min(max_labels, n_classes)
    if min_labels == 0 and max_labels == n_classes:
        return None
    return min_labels, max_labels


def float32_below(values: np.ndarray) -> np.ndarray:
    """float64 ``values`` as the float32 at or below each: for every float32 score ``s``,
    ``s > float32_below(t)`` is exactly ``s > t`` in float64."""
    with np.errstate(over="ignore"):
        single = values.astype(np.float32)
    return np.where(single > values, np.nextafter(single, np.float32(-np.inf)), single)


def _decided(scores: jax.Array, thresholds: jax.Array, rules) -> jax.Array:
    if rules is None:
        return _above(scores, thresholds)
    return _decoded(scores, thresholds, min_labels=rules[0], max_labels=rules[1])


@jax.jit
def _above(scores: jax.Array, thresholds: jax.Array) -> jax.Array:
    return order_keys(scores) > order_keys(thresholds)


#: Rules that take at most this many classes per row select them with one ``argmax``
#: pass each (XLA's ``top_k`` sorts every row on CPU: 5 s for 100,000 x 527 keys, against
#: 0.05 s a pass); more, with ``lax.top_k``.
ARGMAX_PASSES = 16


@functools.partial(jax.jit, static_argnames=("min_labels", "max_labels"))
def _decoded(scores, thresholds, *, min_labels: int, max_labels: int) -> jax.Array:
    """``scores > thresholds`` (order keys) decoded with the rules: int32 ranking keys,
    ``>= 1`` for predicted classes and ``<= 0`` for the others, in the order of the
    float32 margins within each group; the first ``wanted`` of each row in the order of
    (key descending, index ascending) are taken."""
    predicted = order_keys(scores) > order_keys(thresholds)
    margins = order_keys(scores - thresholds)
    keys = jnp.where(predicted, jnp.maximum(margins, 1), jnp.minimum(margins, 0))
    n_rows, n_classes = predicted.shape
    depth = max_labels if max_labels < n_classes else min_labels  # >= 1: rules are on
    count = jnp.count_nonzero(predicted, axis=1)
    wanted = jnp.clip(count, min_labels, max_labels)
    if depth <= ARGMAX_PASSES:
        decoded = _first_by_argmax(keys, wanted, depth)
    else:
        _, top = jax.lax.top_k(keys, depth)  # [n, depth], ties to the lower index
        chosen = jnp.arange(depth) < wanted[:, None]
        decoded = jnp.zeros_like(predicted).at[jnp.arange(n_rows)[:, None], top].set(chosen)
    # A row the rules leave alone may have more positives than were selected.
    return jnp.where((wanted != count)[:, None], decoded, predicted)


def _first_by_argmax(keys, wanted, depth: int):
    """bool[n, classes]: the ``wanted[row]`` (at most ``depth``) largest ``keys`` of each
    row, ties to the lower index, one ``argmax`` (first of equal maxima) per pass; a
    taken key becomes the int32 minimum, below every order key."""
    columns = jnp.arange(keys.shape[1])

    def take(j, state):
        keys, decoded = state
        best = (columns == jnp.argmax(keys, axis=1)[:, None]) & (j < wanted)[:, None]
        return jnp.where(best, jnp.iinfo(jnp.int32).min, keys), decoded | best

    return jax.lax.fori_loop(0, depth, take, (keys, jnp.zeros(keys.shape, bool)))[1]


#: NumPy ranks the rows it changes in blocks of about this many bytes of float64 margins.
_RANK_BYTES = validation.BLOCK_BYTES


def _decode_numpy(predicted, values, bounds, min_labels: int, max_labels: int) -> None:
    """Applies the rules to the NumPy ``predicted = values > bounds`` in place: only the
    rows they change are ranked (margins in the comparison's dtype, a stable argsort)."""
    count = np.count_nonzero(predicted, axis=1)
    changed = np.flatnonzero((count < min_labels) | (count > max_labels))
    if changed.size == 0:
        return
    dtype = np.result_type(values.dtype, bounds.dtype)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    smallest = np.nextafter(dtype.type(0), dtype.type(1))
    n_classes = predicted.shape[1]
    step = max(1, _RANK_BYTES // (8 * n_classes))
    positions = np.arange(n_classes)
    for start in range(0, changed.size, step):
        rows = changed[start : start + step]
        with np.errstate(over="ignore"):
            margins = np.subtract(values[rows], bounds, dtype=dtype)
        hit = predicted[rows]
        # Predicted > 0 >= unpredicted whatever the margin's rounding; order kept within.
        keys = np.where(hit, np.maximum(margins, smallest), np.minimum(margins, 0))
        del margins
        np.negative(keys, out=keys)
        order = np.argsort(keys, axis=1, kind="stable")  # descending margins, low index first
        wanted = np.clip(count[rows], min_labels, max_labels)
        decoded = np.zeros_like(hit)
        np.put_along_axis(decoded, order, positions < wanted[:, None], axis=1)
        predicted[rows] = decoded
