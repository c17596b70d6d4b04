"""Reference computations in NumPy (float64), independent of the library, for the tests."""

from __future__ import annotations

import numpy as np


def fbeta_ratio(true_positives, predicted, positives, beta):
    """``(1+b^2) TP / (PP + b^2 P)``, 1.0 where nothing is to be found and nothing is
    predicted (the library's default ``zero_division``)."""
    true_positives, predicted, positives = np.broadcast_arrays(true_positives, predicted, positives)
    denominator = predicted + beta**2 * positives
    ratio = (1 + beta**2) * true_positives / np.where(denominator == 0, 1, denominator)
    return np.where(denominator == 0, 1.0, ratio)


def fbeta(true_positives, predicted, positives, average, beta):
    """F-beta from per-class counts ``[..., classes]``."""
    if average == "micro":
        return fbeta_ratio(
            true_positives.sum(axis=-1), predicted.sum(axis=-1), positives.sum(axis=-1), beta
        )
    return fbeta_ratio(true_positives, predicted, positives, beta).mean(axis=-1)


def fbeta_of_predictions(labels, predictions, average, beta):
    """F-beta of bool ``predictions [..., n, classes]`` against ``labels [n, classes]``."""
    labels = np.asarray(labels, bool)
    true_positives = (predictions & labels).sum(axis=-2)
    return fbeta(true_positives, predictions.sum(axis=-2), labels.sum(axis=-2), average, beta)
