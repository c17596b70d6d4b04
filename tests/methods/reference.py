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


def _ratio(numerator, denominator, empty=1.0):
    """``numerator / denominator``, ``empty`` where the denominator is 0."""
    numerator, denominator = np.broadcast_arrays(
        np.asarray(numerator, np.float64), np.asarray(denominator, np.float64)
    )
    return np.where(denominator == 0, empty, numerator / np.where(denominator == 0, 1, denominator))


def _form(objective):
    """``(name, coefficients, function)`` of an objective given by name or as a
    :class:`jaxthresh.objectives.Objective` (read from its fields only)."""
    if isinstance(objective, str):
        return ("fbeta", 1.0, None) if objective == "f1" else (objective, None, None)
    coefficients = objective.coefficients
    if coefficients is not None:
        coefficients = np.asarray(coefficients, np.float64)
    return objective.name, coefficients, objective.function


def objective_per_class(objective, tp, fp, fn, tn):
    """The score of each class ``[..., classes]`` from its counts (NumPy, float64): 1.0
    where a fraction's denominator is 0, MCC 0 where it is undefined, balanced accuracy the
    mean of recall and specificity (the one that exists where a class has no positives or
    no negatives; 0 for a class of no weight at all)."""
    tp, fp, fn, tn = (np.asarray(c, np.float64) for c in (tp, fp, fn, tn))
    name, coefficients, function = _form(objective)
    if name == "fbeta":
        b2 = float(coefficients) ** 2
        return _ratio((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp)
    if name == "jaccard":
        return _ratio(tp, tp + fp + fn)
    if name == "precision":
        return _ratio(tp, tp + fp)
    if name == "recall":
        return _ratio(tp, tp + fn)
    if name == "accuracy":
        return _ratio(tp + tn, tp + fp + fn + tn)
    if name == "balanced_accuracy":
        positives, negatives = tp + fn, fp + tn
        recall, specificity = _ratio(tp, positives, 0.0), _ratio(tn, negatives, 0.0)
        both = (positives > 0) & (negatives > 0)
        return np.where(both, (recall + specificity) / 2, recall + specificity)
    if name == "mcc":
        product = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
        return _ratio(tp * tn - fp * fn, np.sqrt(product), 0.0)
    if name == "utility":
        gains = coefficients.reshape(4, *coefficients.shape[1:])
        return gains[0] * tp + gains[1] * fp + gains[2] * fn + gains[3] * tn
    if name == "custom":
        return np.asarray(function(tp, fp, fn, tn), np.float64)
    raise ValueError(f"unknown objective {name!r}")


def objective_score(objective, tp, fp, fn, tn, average):
    """The objective averaged over classes (the last axis) from per-class counts: micro
    scores the counts pooled over the classes (a utility sums its per-class gains), macro
    is the mean per-class score, weighted weighs each class by its positives (equally
    where there are none)."""
    tp, fp, fn, tn = (np.asarray(c, np.float64) for c in (tp, fp, fn, tn))
    name, _, _ = _form(objective)
    if average == "micro" and name != "utility":
        pooled = [c.sum(axis=-1, keepdims=True) for c in (tp, fp, fn, tn)]
        return objective_per_class(objective, *pooled)[..., 0]
    scores = objective_per_class(objective, tp, fp, fn, tn)
    if average == "micro":
        return scores.sum(axis=-1)
    if average == "macro":
        return scores.mean(axis=-1)
    if average == "weighted":
        positives = tp + fn
        total = positives.sum(axis=-1, keepdims=True)
        weights = np.where(total > 0, positives / np.where(total > 0, total, 1), 1 / tp.shape[-1])
        return (scores * weights).sum(axis=-1)
    raise ValueError(f"unknown average {average!r}")


def confusion_of_predictions(labels, predictions, weights=None):
    """``(tp, fp, fn, tn)`` ``[..., classes]`` of bool ``predictions [..., n, classes]``
    against ``labels [n, classes]`` with weights of rows ``[n]`` or labels ``[n, classes]``
    (None: 1)."""
    labels = np.asarray(labels, bool)
    if weights is None:
        weights = np.ones(labels.shape)
    weights = np.asarray(weights, np.float64)
    weights = np.broadcast_to(weights[:, None] if weights.ndim == 1 else weights, labels.shape)
    predictions = np.asarray(predictions, bool)
    tp = (weights * (predictions & labels)).sum(axis=-2)
    fp = (weights * (predictions & ~labels)).sum(axis=-2)
    fn = (weights * (~predictions & labels)).sum(axis=-2)
    tn = (weights * (~predictions & ~labels)).sum(axis=-2)
    return tp, fp, fn, tn


def objective_of_predictions(labels, predictions, objective, average, weights=None):
    """The objective of bool ``predictions [..., n, classes]`` (see
    :func:`confusion_of_predictions`)."""
    return objective_score(
        objective, *confusion_of_predictions(labels, predictions, weights), average
    )
