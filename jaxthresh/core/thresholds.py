"""Applying thresholds: predictions ``scores > thresholds``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxthresh.core import validation


def apply_thresholds(scores, thresholds) -> jax.Array:
    """Hard predictions ``scores > thresholds``; works inside ``jit`` and ``vmap``.

    Args:
      scores: real ``[n, classes]``, NumPy or JAX.
      thresholds: a real scalar or ``[classes]``.

    Returns:
      bool[n, classes]; a score equal to its threshold is predicted negative.
    """
    scores = jnp.asarray(validation.as_scores(scores))
    thresholds = validation.per_class(thresholds, scores.shape[1], "thresholds")
    return _apply(scores, thresholds)


@jax.jit
def _apply(scores: jax.Array, thresholds: jax.Array) -> jax.Array:
    return scores > thresholds
