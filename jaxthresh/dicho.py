"""dichoThresh: coarse grid search, then Gaussian perturbations with a shrinking spread.

The random-search baseline of the SGLThresh paper (Sec. 3.2, after Cances et al. 2019):

1. coarse search: a grid of ``coarse_points`` thresholds spanning the scores; macro-F takes
   the best grid value for each class alone, micro-F the best value shared by all classes;
2. ``steps`` refinement steps: ``candidates`` random threshold vectors around the best so
   far, ``best + spread_s * N(0, 1)`` with ``spread_s = spread * shrink**s`` (a narrower
   range and finer precision every step). Macro-F accepts, per class, the best candidate
   value if it beats that class's current score; micro-F accepts the best whole candidate
   vector if it beats the current micro score.

Each class's scores are sorted once; after that, the exact counts of any candidate thresholds
are binary searches (:func:`jaxthresh._cuts.counts_above`), so every candidate is scored for
all classes at once (``vmap``) in O(classes * log n). Every step is one iteration of a
``lax.scan``, and the randomness comes from an explicit PRNG key.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh import _validation
from jaxthresh._cuts import column_cuts, counts_above
from jaxthresh._fitting import fit_all_rows
from jaxthresh.metrics import _fbeta_ratio, fbeta_from_counts
from jaxthresh.progress import report


class DichoResult(NamedTuple):
    """Result of :func:`fit_dicho`.

    Attributes:
      thresholds: float32[classes].
      history: float32[steps], F-beta on the fitting data after each refinement step.
    """

    thresholds: jax.Array
    history: jax.Array


def _per_class_and_total(counts, beta):
    """Per-class F-beta ``[..., classes]`` and micro F-beta ``[...]`` of batched counts."""
    per_class = _fbeta_ratio(*counts, beta, 1.0, jnp)
    return per_class, fbeta_from_counts(counts, average="micro", beta=beta)


@functools.partial(jax.jit, static_argnames=("coarse_points", "steps", "candidates", "average"))
def dicho_fit_weighted(
    scores: jax.Array,
    labels: jax.Array,
    row_weights: jax.Array,
    key: jax.Array,
    spread: jax.Array,
    shrink: jax.Array,
    beta: jax.Array | float = 1.0,
    *,
    coarse_points: int,
    steps: int,
    candidates: int,
    average: str,
) -> DichoResult:
    """dichoThresh on weighted rows; unchecked, jit- and vmap-friendly (see
    :func:`fit_dicho`)."""
    n_classes = scores.shape[1]
    columns = jnp.arange(n_classes)
    cuts = column_cuts(scores.T, labels.T, row_weights[None, :])
    weighted = row_weights[:, None] > 0
    low = jnp.min(jnp.where(weighted, scores, jnp.inf))
    high = jnp.max(cuts.highest)

    def score_all(thresholds):  # [m, classes] -> per-class [m, classes], micro [m]
        counts = jax.vmap(lambda t: counts_above(cuts, t))(thresholds)
        return _per_class_and_total(counts, beta)

    grid = low + (high - low) * jnp.linspace(0.0, 1.0, coarse_points)
    grid_thresholds = jnp.broadcast_to(grid[:, None], (coarse_points, n_classes))
    per_class, micro = score_all(grid_thresholds)
    if average == "macro":
        best = jnp.argmax(per_class, axis=0)
        thresholds, per_class = grid[best], per_class[best, columns]
        score = jnp.mean(per_class)
    else:
        best = jnp.argmax(micro)
        thresholds, per_class, score = grid_thresholds[best], per_class[best], micro[best]

    def refine(carry, inputs):
        thresholds, per_class, score = carry
        step_key, width, index = inputs
        noise = jax.random.normal(step_key, (candidates, n_classes))
        trial = thresholds + width * noise
        trial_per_class, trial_micro = score_all(trial)
        if average == "macro":
            pick = jnp.argmax(trial_per_class, axis=0)
            offered = trial_per_class[pick, columns]
            accept = offered > per_class
            thresholds = jnp.where(accept, trial[pick, columns], thresholds)
            per_class = jnp.where(accept, offered, per_class)
            score = jnp.mean(per_class)
        else:
            pick = jnp.argmax(trial_micro)
            accept = trial_micro[pick] > score
            thresholds = jnp.where(accept, trial[pick], thresholds)
            per_class = jnp.where(accept, trial_per_class[pick], per_class)
            score = jnp.where(accept, trial_micro[pick], score)
        report("dicho", index + 1, steps, score)
        return (thresholds, per_class, score), score

    widths = spread * shrink ** jnp.arange(steps, dtype=jnp.float32)
    (thresholds, _, _), history = jax.lax.scan(
        refine,
        (thresholds, per_class, score),
        (jax.random.split(key, steps), widths, jnp.arange(steps)),
    )
    return DichoResult(thresholds, history)


def dicho_hyperparameters(
    n_classes: int,
    *,
    key,
    coarse_points: int = 21,
    steps: int = 100,
    candidates: int = 16,
    spread: float = 0.05,
    shrink: float = 0.97,
    average: str = "micro",
    beta: float = 1.0,
) -> tuple[dict, dict]:
    """Validates :func:`fit_dicho`'s hyperparameters; returns ``(arrays, static)`` keyword
    arguments of :func:`dicho_fit_weighted`."""
    del n_classes
    shrink = _validation.positive_float(shrink, "shrink")
    if shrink > 1:
        raise ValueError(f"shrink: must be in (0, 1], got {shrink!r}")
    arrays = {
        "key": _validation.prng_key(key, "key"),
        "spread": np.float32(_validation.positive_float(spread, "spread")),
        "shrink": np.float32(shrink),
        "beta": np.float32(_validation.positive_float(beta, "beta")),
    }
    static = {
        "coarse_points": _validation.positive_int(coarse_points, "coarse_points"),
        "steps": _validation.positive_int(steps, "steps"),
        "candidates": _validation.positive_int(candidates, "candidates"),
        "average": _validation.average_name(average),
    }
    return arrays, static


def fit_dicho(
    scores,
    labels,
    *,
    key,
    coarse_points: int = 21,
    steps: int = 100,
    candidates: int = 16,
    spread: float = 0.05,
    shrink: float = 0.97,
    average: str = "micro",
    beta: float = 1.0,
) -> DichoResult:
    """dichoThresh: coarse grid search, then shrinking Gaussian random search.

    Args:
      scores: float[n, classes].
      labels: 0/1 ``[n, classes]``.
      key: a ``jax.random`` key (``jax.random.key(seed)``): the only source of randomness.
      coarse_points: grid size of the coarse search, spanning the lowest to highest score.
      steps: refinement steps.
      candidates: random candidate threshold vectors per step.
      spread: standard deviation of the perturbations at the first step.
      shrink: factor in (0, 1] applied to the spread after every step.
      average: "micro" (global acceptance) or "macro" (per-class acceptance).
      beta: weight of recall.

    Returns:
      :class:`DichoResult`.
    """
    return fit_all_rows(
        dicho_hyperparameters,
        dicho_fit_weighted,
        scores,
        labels,
        key=key,
        coarse_points=coarse_points,
        steps=steps,
        candidates=candidates,
        spread=spread,
        shrink=shrink,
        average=average,
        beta=beta,
    )
