"""Applying thresholds: predictions ``scores > thresholds``, exactly as NumPy compares.

NumPy input is compared with NumPy, on the caller's own values (float64 included). JAX
input is compared on the order keys of :func:`jaxthresh.core.cuts.order_keys`, which XLA
does not flush: a subnormal score above a subnormal threshold is predicted positive, as
NumPy predicts it, although XLA on CPU compares subnormal floats as zero.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh.core import validation
from jaxthresh.core.cuts import order_keys


def apply_thresholds(scores, thresholds):
    """Hard predictions ``scores > thresholds``; works inside ``jit`` and ``vmap``.

    Args:
      scores: real ``[n, classes]``, NumPy or JAX.
      thresholds: a real scalar or ``[classes]``, taken as float32 (as every fit returns
        them).

    Returns:
      bool[n, classes] (a NumPy array for NumPy scores, else a JAX array); a score equal
      to its threshold is predicted negative. The comparison is exact for the values given:
      float64 NumPy scores are compared in float64, subnormal floats are not flushed.
    """
    checked = validation.as_scores(scores)
    n_classes = checked.shape[1]
    if isinstance(checked, np.ndarray) and not validation.is_traced(thresholds):
        values = np.asarray(scores)
        if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number):
            values = checked
        return values > np.asarray(validation.per_class(thresholds, n_classes, "thresholds"))
    return _above(jnp.asarray(checked), validation.per_class(thresholds, n_classes, "thresholds"))


@jax.jit
def _above(scores: jax.Array, thresholds: jax.Array) -> jax.Array:
    return order_keys(scores) > order_keys(thresholds)
