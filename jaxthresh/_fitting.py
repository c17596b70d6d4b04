"""The one path from a public ``fit_*`` call to its compiled, weighted fit."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jaxthresh import _validation


def fit_all_rows(
    hyperparameters: Callable[..., tuple[dict, dict]],
    fit_weighted: Callable,
    scores,
    labels,
    **kwargs,
):
    """Validates the inputs, then fits on every row with weight 1.

    Args:
      hyperparameters: ``(n_classes, **kwargs) -> (arrays, static)``, a method's checks.
      fit_weighted: ``(scores, labels, row_weights, **arrays, **static) -> result``.
      scores: float[n, classes].
      labels: 0/1 ``[n, classes]``.
      **kwargs: the method's hyperparameters.
    """
    scores, labels = _validation.as_scores_and_labels(scores, labels)
    arrays, static = hyperparameters(scores.shape[1], **kwargs)
    row_weights = np.ones(scores.shape[0], np.int32)
    return fit_weighted(scores, labels, row_weights, **arrays, **static)
