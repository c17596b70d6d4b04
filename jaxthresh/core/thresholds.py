"""Applying thresholds: predictions ``scores > thresholds``, exactly as NumPy compares.

NumPy input is compared with NumPy, on the caller's own values (float64 included). JAX
input is compared on the order keys of :func:`jaxthresh.core.cuts.order_keys`, which XLA
does not flush: a subnormal score above a subnormal threshold is predicted positive, as
NumPy predicts it, although XLA on CPU compares subnormal floats as zero.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh.core import validation
from jaxthresh.core.cuts import order_keys


def apply_thresholds(scores, thresholds):
    """Hard predictions ``scores > thresholds``; works inside ``jit`` and ``vmap``.

    Args:
      scores: real ``[n, classes]``, NumPy or JAX.
      thresholds: a real scalar or ``[classes]``, finite as float32.

    Returns:
      bool[n, classes] (a NumPy array for NumPy scores, else a JAX array); a score equal
      to its threshold is predicted negative. On concrete inputs the comparison is NumPy's
      ``scores > thresholds`` for the values given, in the wider of their dtypes: a NumPy
      array of float64 thresholds is compared in float64, Python numbers and lists (weakly
      typed, as NumPy treats a Python number) in the dtype of float scores. Subnormal
      floats are not flushed. JAX scores are float32: float64 NumPy thresholds are rounded
      down to the float32 at or below them, which leaves every comparison as NumPy's.
    """
    checked = validation.as_scores(scores)
    n_classes = checked.shape[1]
    checked_thresholds = validation.per_class(thresholds, n_classes, "thresholds")
    if validation.is_traced(thresholds):
        return _above(jnp.asarray(checked), checked_thresholds)
    weak = isinstance(thresholds, numbers.Real | list | tuple)
    if isinstance(checked, np.ndarray):
        values = np.asarray(scores)
        if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number):
            values = checked  # bool, or JAX's own floats (bfloat16...): as float32
        weak &= np.issubdtype(values.dtype, np.floating)
        return values > np.asarray(thresholds, values.dtype if weak else None)
    if not weak and np.asarray(thresholds).dtype == np.float64:
        checked_thresholds = jnp.asarray(float32_below(np.asarray(thresholds)))
    return _above(jnp.asarray(checked), jnp.broadcast_to(checked_thresholds, (n_classes,)))


def float32_below(values: np.ndarray) -> np.ndarray:
    """float64 ``values`` as the float32 at or below each: for every float32 score ``s``,
    ``s > float32_below(t)`` is exactly ``s > t`` in float64."""
    with np.errstate(over="ignore"):
        single = values.astype(np.float32)
    return np.where(single > values, np.nextafter(single, np.float32(-np.inf)), single)


@jax.jit
def _above(scores: jax.Array, thresholds: jax.Array) -> jax.Array:
    return order_keys(scores) > order_keys(thresholds)
