"""scikit-learn estimators: per-class thresholds for any multi-label classifier.

Needs scikit-learn (``pip install 'jaxthresh[sklearn]'``); the rest of jaxthresh does not.

Two meta-estimators wrap a multi-label classifier (anything whose ``predict_proba`` or
``decision_function`` gives a score per class, ``[n, classes]``, or one ``[n, 2]``
probability array per output, as ``KNeighborsClassifier`` and ``RandomForestClassifier``
give on 2-D targets) and predict ``score > threshold`` per class:

* :class:`ThresholdClassifierCV` chooses the thresholds. The classifier's scores on rows
  it did not see are gathered over the folds of a scikit-learn splitter (as
  ``cross_val_predict`` gathers them; ``cv="prefit"`` scores an already fitted classifier
  on the data given to ``fit`` instead); any jaxthresh method (:data:`jaxthresh.METHODS`)
  fits one threshold per class on those out-of-fold scores; the classifier is refitted on
  every row. ``cv_results_`` says how well thresholds chosen this way carry to new rows:
  for each fold, thresholds fitted on the out-of-fold scores of the other folds, scored
  on that fold (the same folds, no new classifier fits). ``save_thresholds`` writes the
  thresholds to a versioned ``thresholds.json`` (:mod:`jaxthresh.cli.thresholds_file`,
  the file the ``jaxthresh`` tool reads and writes).
* :class:`FixedThresholdClassifier` predicts with given thresholds (a ``thresholds.json``,
  an array, or one number): the deployment step. It checks the class count (and the class
  names where both sides have them, and the response method the file was fitted on).
  Like scikit-learn's own ``FixedThresholdClassifier``, it predicts without ``fit`` when
  the classifier is already fitted, and ``fit`` refits a clone of it.

Design notes:

* The targets ``y`` are a 0/1 (or bool) indicator matrix ``[n, classes]``, also for one
  class (``[n, 1]``); ``y`` goes to the classifier as given. ``predict`` returns int64
  ``[n, classes]``, as scikit-learn's multi-label classifiers do, and ``classes_`` is
  ``arange(classes)``.
* Scores go to jaxthresh as the classifier gives them (float64 included): jaxthresh fits
  in float32, issues a :class:`jaxthresh.core.diagnostics.FitWarning` where that rounding
  changes a prediction, and ``predict`` is exactly NumPy's ``scores > thresholds_`` on the
  classifier's own values (:func:`jaxthresh.apply_thresholds`), so that
  ``predict(X) == (predict_proba(X) > thresholds_)``.
* The method is any registered one, taken by name with its hyperparameters in
  ``hyperparameters`` (a dict, so that ``GridSearchCV`` can search it), checked against
  the method's own declaration (:func:`jaxthresh.methods.configure`): nothing here knows
  one method from another. ``objective`` and ``average`` are the estimator's parameters:
  they go to the method, and choose ``score`` and ``best_score_``.
* Fitting folds of thresholds are row weights over one copy of the out-of-fold scores
  (weight 0 outside the fold). The rows are padded with rows of weight 0 to a size shared
  by similar row counts (at most 1/4 more), so that the fits of a grid search's splits
  reuse compiled programs instead of compiling one per row count. A warning of a fold's
  fit that the final fit did not give is issued once, naming the folds.
* ``score`` is the objective (the estimator's ``objective`` and ``average``; jaxthresh's
  zero-division rule, 1 where there is nothing to find; exact counts in NumPy, the
  objective computed from them in float32) of ``predict``,
  so that ``GridSearchCV`` selects by the figure the thresholds maximize. Candidates that
  differ in ``objective`` are scored by different figures: compare them with a fixed
  ``scoring`` (``"f1_micro"``...).
* Parameters are stored unchanged in ``__init__`` and checked in ``fit``; every bad value
  is a ``ValueError`` whose message starts with the argument's name.
* ``random_state`` shuffles the folds of an integer ``cv`` and seeds the random keys the
  method declares (``dicho``, ``auto``) unless ``hyperparameters`` gives them.
* An already fitted classifier that must survive ``clone`` (``GridSearchCV``,
  ``cross_validate``) goes in ``sklearn.frozen.FrozenEstimator``, as in scikit-learn.
"""

from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Mapping

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
    from sklearn.exceptions import NotFittedError
    from sklearn.model_selection import KFold, check_cv
    from sklearn.utils import _safe_indexing, check_random_state, get_tags
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.parallel import Parallel, delayed
    from sklearn.utils.validation import (
        _is_arraylike_not_scalar,
        _num_samples,
        check_is_fitted,
        has_fit_parameter,
        indexable,
    )
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "jaxthresh.sklearn needs scikit-learn: pip install 'jaxthresh[sklearn]'"
    ) from error

import jax
import numpy as np
import scipy.sparse

import jaxthresh
from jaxthresh import objectives
from jaxthresh.cli import thresholds_file
from jaxthresh.core import validation
from jaxthresh.core.diagnostics import FitWarning
from jaxthresh.core.metrics import Counts, objective_of_totals
from jaxthresh.methods import configure, get_method

__all__ = ["FixedThresholdClassifier", "ThresholdClassifierCV"]

#: The values of ``response_method``.
RESPONSE_METHODS = ("auto", "predict_proba", "decision_function")


# ---------------------------------------------------------------------------------------
# Checks and conversions shared by both estimators.


def _check_labels(y, owner: str = "the estimator") -> tuple[np.ndarray, list[str] | None]:
    """``(bool[n, classes], class names or None)`` from a 0/1 indicator matrix ``y``
    (NumPy, a list of lists, a DataFrame, a SciPy sparse matrix; an object array of
    numbers); ``ValueError`` naming ``y`` otherwise. Names come from the columns of a
    DataFrame, where they are strings."""
    if y is None:
        raise ValueError(f"y: {owner} requires y to be passed, but the target y is None")
    names = getattr(y, "columns", None)
    names = list(names) if names is not None else None
    if names is not None and not all(isinstance(name, str) for name in names):
        names = None
    if scipy.sparse.issparse(y):
        y = y.toarray()
    try:
        labels = np.asarray(y)
    except (TypeError, ValueError) as error:  # ragged lists
        raise ValueError(f"y: expected a 0/1 array [rows, classes]: {error}") from None
    if labels.dtype.kind == "c":
        raise ValueError("y: Complex data not supported; expected 0/1 labels")
    if labels.dtype.hasobject:
        numbers_only = all(isinstance(value, numbers.Number | np.bool_) for value in labels.ravel())
        if not numbers_only:
            raise ValueError(
                "y: Unknown label type: expected 0/1 numbers or bools, got objects that "
                "are not numbers"
            )
        labels = labels.astype(np.float64)
    if labels.ndim != 2 or labels.dtype.kind not in "biuf":
        raise ValueError(
            f"y: Only binary classification is supported, per class: expected 0/1 labels "
            f"of shape [rows, classes] (a multi-label indicator matrix; one binary target "
            f"is y.reshape(-1, 1)), got {_target_kind(labels)} of shape {labels.shape}"
        )
    if 0 in labels.shape:
        raise ValueError(f"y: is empty (shape {labels.shape}); need at least one row and class")
    if labels.dtype != np.bool_:
        bad = (labels != 0) & (labels != 1)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise ValueError(
                f"y: values must be 0 or 1 (a multi-label indicator matrix), found "
                f"{labels[row, column].item()!r} at row {row}, class {column} "
                f"({int(bad.sum())} such values)"
            )
    return labels.astype(bool), names


def _target_kind(labels: np.ndarray) -> str:
    """How scikit-learn names a target that is not 0/1 labels: "a continuous target",
    "a multiclass target"..."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            kind = type_of_target(labels)
    except (TypeError, ValueError):
        kind = "unknown"
    if kind == "unknown":
        return f"values of dtype {labels.dtype} (Unknown label type)"
    return f"a {kind} target"


def _check_sample_weight(sample_weight, n_rows: int) -> np.ndarray | None:
    """None, or float64[n_rows] weights, finite, >= 0, not all 0."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight)
    if weights.dtype == np.bool_:
        weights = weights.astype(np.float64)
    if weights.dtype.hasobject or not np.issubdtype(weights.dtype, np.number):
        raise ValueError(f"sample_weight: expected numbers, got dtype {weights.dtype}")
    if weights.shape != (n_rows,):
        raise ValueError(
            f"sample_weight: expected shape ({n_rows},), one weight per row, got {weights.shape}"
        )
    weights = weights.astype(np.float64)
    if not np.all(np.isfinite(weights) & (weights >= 0)):
        raise ValueError("sample_weight: every weight must be finite and >= 0")
    if not np.any(weights > 0):
        raise ValueError("sample_weight: every weight is zero; at least one must be > 0")
    return weights


def _check_response_method(response_method, estimator) -> str:
    """The method of ``estimator`` that gives the scores: ``response_method``, or for
    "auto" ``predict_proba`` where the estimator has it, else ``decision_function``."""
    if not isinstance(response_method, str) or response_method not in RESPONSE_METHODS:
        raise ValueError(
            f"response_method: must be one of {', '.join(RESPONSE_METHODS)}, got "
            f"{response_method!r}"
        )
    if response_method == "auto":
        for name in RESPONSE_METHODS[1:]:
            if hasattr(estimator, name):
                return name
        raise ValueError(
            f"estimator: {type(estimator).__name__} has neither predict_proba nor "
            "decision_function; jaxthresh thresholds a score per class"
        )
    if not hasattr(estimator, response_method):
        raise ValueError(f"response_method: {type(estimator).__name__} has no {response_method}")
    return response_method


def _check_estimator(estimator, needs_fit: bool) -> None:
    if needs_fit and not hasattr(estimator, "fit"):
        raise ValueError(
            f"estimator: expected a scikit-learn classifier (with fit), got "
            f"{type(estimator).__name__}"
        )


def _is_fitted(estimator) -> bool:
    try:
        check_is_fitted(estimator)
    except (NotFittedError, TypeError):
        return False
    return True


def _positive_column(output: np.ndarray, classes, method: str, index: int) -> np.ndarray:
    """The score of label 1 from one output's ``[n, k]`` array: the column of class 1
    (by the output's ``classes_`` where known, else column 1 of two); zeros where the
    output never saw label 1 (a class that was all 0 in the training rows)."""
    if output.ndim != 2:
        raise ValueError(
            f"estimator: {method} output {index} has shape {output.shape}, expected [n, 2]"
        )
    if classes is not None and len(classes) == output.shape[1]:
        positive = np.flatnonzero(np.asarray(classes) == 1)
        if len(positive):
            return output[:, positive[0]]
        return np.zeros(output.shape[0], output.dtype if output.dtype.kind == "f" else float)
    if output.shape[1] == 2:
        return output[:, 1]
    raise ValueError(
        f"estimator: {method} output {index} has shape {output.shape}; expected [n, 2] "
        "(the probabilities of labels 0 and 1)"
    )


def _score_matrix(raw, n_classes: int, estimator, method: str) -> np.ndarray:
    """The classifier's output as a real ``[n, classes]`` matrix of per-class scores.

    Accepts ``[n, classes]``; a list of ``classes`` arrays ``[n, 2]`` (one per output,
    the probabilities of labels 0 and 1: the column of label 1 is taken); and, for one
    class, a binary classifier's ``[n]`` or ``[n, 2]``.
    """
    classes = getattr(estimator, "classes_", None)
    if isinstance(raw, list | tuple):
        if len(raw) != n_classes:
            raise ValueError(
                f"estimator: {method} returned {len(raw)} arrays (one per output) for "
                f"{n_classes} classes"
            )
        per_output = classes if isinstance(classes, list | tuple) else [None] * n_classes
        if len(per_output) != n_classes:
            per_output = [None] * n_classes
        return np.stack(
            [
                _positive_column(np.asarray(output), labels, method, index)
                for index, (output, labels) in enumerate(zip(raw, per_output, strict=True))
            ],
            axis=1,
        )
    if scipy.sparse.issparse(raw):
        raw = raw.toarray()
    scores = np.asarray(raw)
    if n_classes == 1 and scores.ndim == 1:
        return scores[:, None]
    if n_classes == 1 and method == "predict_proba" and scores.ndim == 2:
        binary = isinstance(classes, np.ndarray) and classes.ndim == 1
        if binary and len(classes) == scores.shape[1] and set(classes.tolist()) <= {0, 1}:
            return _positive_column(scores, classes, method, 0)[:, None]
        if scores.shape[1] == 2:
            return scores[:, 1:]
    if scores.ndim == 2 and scores.shape[1] == n_classes:
        return scores
    raise ValueError(
        f"estimator: {method} returned shape {scores.shape}; expected [n, {n_classes}] "
        f"(one score per class) or {n_classes} arrays [n, 2]"
    )


def _class_count(raw, estimator, method: str) -> int:
    """How many classes the classifier's output ``raw`` scores, for a classifier
    predicting without ``fit`` (no ``y`` to count them): one per array of a list, one for
    ``[n]``, else the columns of ``[n, k]``, except a binary classifier's
    ``predict_proba`` ``[n, 2]`` (``classes_`` 0 and 1, rows that sum to 1): one class."""
    if isinstance(raw, list | tuple):
        return len(raw)
    shape = raw.shape if scipy.sparse.issparse(raw) else np.shape(raw)
    if len(shape) == 1:
        return 1
    if len(shape) != 2:
        raise ValueError(
            f"estimator: {method} returned shape {shape}; expected [n, classes] (one score "
            "per class) or one array [n, 2] per class"
        )
    if shape[1] == 2 and method == "predict_proba" and not scipy.sparse.issparse(raw):
        classes = getattr(estimator, "classes_", None)
        binary = isinstance(classes, np.ndarray) and classes.ndim == 1 and len(classes) == 2
        if binary and set(classes.tolist()) == {0, 1}:
            with np.errstate(all="ignore"):
                sums = np.asarray(raw, np.float64).sum(axis=1)
            if np.allclose(sums, 1.0):
                return 1
    return shape[1]


def _scores(estimator, X, method: str, n_classes: int | None) -> np.ndarray:
    """Finite real ``[n, classes]`` scores of ``estimator.<method>(X)``, for ``n_classes``
    classes (None: as many as the output scores, :func:`_class_count`)."""
    raw = getattr(estimator, method)(X)
    if n_classes is None:
        n_classes = _class_count(raw, estimator, method)
    scores = _score_matrix(raw, n_classes, estimator, method)
    if scores.dtype == np.bool_ or scores.dtype.hasobject or scores.dtype.kind not in "iuf":
        raise ValueError(f"estimator: {method} returned dtype {scores.dtype}, not real numbers")
    if scores.dtype.kind == "f" and not np.all(np.isfinite(scores)):
        raise ValueError(f"estimator: {method} returned NaN or infinite scores")
    return scores


def _fit_estimator(estimator, X, y, sample_weight, fit_params, rows=None):
    """``estimator`` fitted on ``rows`` (all if None), with the sample weights where its
    fit takes them and the fit parameters of those rows."""
    if rows is not None:
        n_rows = _num_samples(X)
        X, y = _safe_indexing(X, rows), _safe_indexing(y, rows)
        sample_weight = None if sample_weight is None else sample_weight[rows]
        fit_params = {name: _rows_of(value, rows, n_rows) for name, value in fit_params.items()}
    if sample_weight is not None:
        fit_params = {**fit_params, "sample_weight": sample_weight}
    return estimator.fit(X, y, **fit_params)


def _rows_of(value, rows, n_rows: int):
    """A fit parameter for ``rows``: array-likes with one entry per row are indexed (as
    scikit-learn's cross-validation indexes them), anything else passes unchanged."""
    if _is_arraylike_not_scalar(value) and _num_samples(value) == n_rows:
        return _safe_indexing(value, rows)
    return value


def _estimator_tags(tags, estimator):
    """The tags of a multi-label-only meta-estimator: each output binary, 2-D targets,
    and the input tags (sparse X, NaN in X) of the wrapped classifier."""
    tags.classifier_tags.multi_label = True
    tags.classifier_tags.multi_class = False
    tags.target_tags.multi_output = True
    tags.target_tags.single_output = False
    try:
        inner = get_tags(estimator)
    except (AttributeError, TypeError, ValueError):
        return tags
    tags.input_tags.sparse = inner.input_tags.sparse
    tags.input_tags.allow_nan = inner.input_tags.allow_nan
    return tags


def _estimator_has(name: str):
    """For ``available_if``: the wrapped (fitted, else given) classifier has ``name``."""

    def check(self) -> bool:
        return hasattr(getattr(self, "estimator_", self.estimator), name)

    return check


class _ThresholdPredictor(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """What both estimators share: scores of the wrapped classifier, ``score > threshold``
    predictions, the pass-through of its scores, the objective's ``score`` and the tags."""

    def _scored(self, X, method: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(scores [n, classes], thresholds float32[classes])``: the fitted classifier's
        scores of ``X`` by ``method`` (default ``response_method_``)."""
        check_is_fitted(self)
        scores = _scores(self.estimator_, X, method or self.response_method_, len(self.thresholds_))
        return scores, self.thresholds_

    def _class_scores(self, X, method: str | None = None) -> np.ndarray:
        return self._scored(X, method)[0]

    def predict(self, X) -> np.ndarray:
        """0/1 predictions, ``score > threshold`` for each class.

        Args:
          X: ``[n, features]``, as the classifier takes it.

        Returns:
          int64[n, classes]: 1 where the classifier's score (``response_method_``)
          exceeds the class's threshold, exactly as NumPy compares the classifier's values.
        """
        scores, thresholds = self._scored(X)
        return np.asarray(jaxthresh.apply_thresholds(scores, thresholds)).astype(np.int64)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X) -> np.ndarray:
        """The classifier's probability of each class, ``float[n, classes]`` (the column
        of label 1 where it gives one ``[n, 2]`` array per output)."""
        return self._class_scores(X, "predict_proba")

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X) -> np.ndarray:
        """The classifier's decision function, ``float[n, classes]``."""
        return self._class_scores(X, "decision_function")

    def score(self, X, y, sample_weight=None) -> float:
        """The objective of ``predict(X)`` against ``y`` (``objective`` and ``average`` of
        the estimator; F1 micro for bare thresholds; a set with no positives and no
        predictions scores 1).

        Args:
          X: ``[n, features]``.
          y: 0/1 ``[n, classes]``.
          sample_weight: None or ``[n]`` row weights.

        Returns:
          A float (in [0, 1] but for utilities and custom objectives).
        """
        predictions = self.predict(X)
        labels, _ = _check_labels(y, type(self).__name__)
        weights = _check_sample_weight(sample_weight, labels.shape[0])
        if predictions.shape != labels.shape:
            raise ValueError(
                f"y: shape {labels.shape} does not match the predictions' {predictions.shape}"
            )
        return _objective_score(labels, predictions, weights, *self._objective())

    def _objective(self) -> tuple:
        return _checked_objective(self.objective), self.average

    def __sklearn_tags__(self):
        return _estimator_tags(super().__sklearn_tags__(), self.estimator)

    def _set_input_attributes(self) -> None:
        """``n_features_in_`` and ``feature_names_in_`` of the fitted classifier."""
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))


# ---------------------------------------------------------------------------------------
# ThresholdClassifierCV


def _check_cv(cv, random_state):
    """A splitter for ``cv``: an int >= 2 is ``KFold(cv, shuffle=True)``; a splitter or an
    iterable of ``(train, test)`` index pairs is taken as scikit-learn takes it."""
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv: an int cv must be >= 2 folds, got {cv}")
        return KFold(int(cv), shuffle=True, random_state=random_state)
    if isinstance(cv, str) or isinstance(cv, bool) or cv is None:
        raise ValueError(
            f"cv: expected an int >= 2, a scikit-learn splitter, an iterable of (train, "
            f"test) indices or 'prefit', got {cv!r}"
        )
    try:
        return check_cv(cv)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cv: {error}") from None


def _is_prefit(cv) -> bool:
    return isinstance(cv, str) and cv == "prefit"


def _test_folds(splits, n_rows: int) -> np.ndarray:
    """int[n]: the split whose test indices hold each row; ``ValueError`` unless the test
    sets partition the rows (each row held out exactly once, as out-of-fold scores need)."""
    fold = np.full(n_rows, -1)
    for index, (_, test) in enumerate(splits):
        test = np.asarray(test)
        if test.dtype == np.bool_:
            test = np.flatnonzero(test)
        if np.any(fold[test] >= 0) or len(np.unique(test)) != len(test):
            raise ValueError(
                "cv: a row is in the test set of more than one split; out-of-fold scores "
                "need test sets that partition the rows (KFold, GroupKFold, ...)"
            )
        fold[test] = index
    if np.any(fold < 0):
        raise ValueError(
            f"cv: {int(np.sum(fold < 0))} rows are in no test set; out-of-fold scores need "
            "test sets that partition the rows (KFold, GroupKFold, ...)"
        )
    if len(splits) < 2:
        raise ValueError(f"cv: needs at least 2 splits, got {len(splits)}")
    return fold


def _check_fold_weights(weights: np.ndarray | None, folds: np.ndarray) -> None:
    """``ValueError`` naming ``sample_weight`` where every weight outside a fold is 0:
    that fold's classifier and thresholds would be fitted on no rows."""
    if weights is None:
        return
    for fold in range(int(folds.max()) + 1):
        if not np.any(weights[folds != fold] > 0):
            raise ValueError(
                f"sample_weight: every weight outside fold {fold} is 0, so the fold's "
                "classifier and thresholds would be fitted on no rows; give weights > 0 "
                "to rows of at least two folds"
            )


def _fold_warnings(messages_by_fold: list[list[str]], already: set[str]) -> None:
    """Issues each distinct warning of the fold fits once, naming the folds, except those
    the final fit issued."""
    folds_of: dict[str, list[int]] = {}
    for fold, messages in enumerate(messages_by_fold):
        for message in messages:
            folds_of.setdefault(message, []).append(fold)
    for message, folds in folds_of.items():
        if message not in already:
            noun = "fold" if len(folds) == 1 else "folds"
            warnings.warn(
                f"thresholds fitted without cross-validation {noun} "
                f"{', '.join(map(str, folds))}: {message}",
                FitWarning,
                stacklevel=3,
            )


def _padded_size(n_rows: int) -> int:
    """``n_rows`` rounded up to a multiple of a quarter of its power of two (128 at
    least): fits on similar numbers of rows (the splits of a grid search, the folds)
    then share compiled programs, for at most 1/4 more rows (of weight 0)."""
    step = 1 << max(n_rows.bit_length() - 3, 0)
    return max(128, -(-n_rows // step) * step)


def _pad_rows(array: np.ndarray, size: int, like_first: bool = False) -> np.ndarray:
    """``array`` with rows appended up to ``size``: copies of its first row where
    ``like_first`` (scores: no new value to cut between), else zeros (labels, weights)."""
    extra = size - array.shape[0]
    if like_first:
        filler = np.repeat(array[:1], extra, axis=0)
    else:
        filler = np.zeros((extra, *array.shape[1:]), array.dtype)
    return np.concatenate([array, filler])


def _checked_objective(objective):
    """``objective`` as a :class:`jaxthresh.objectives.Objective` (``ValueError`` naming
    ``objective`` if it is none)."""
    return objectives.get(objective)


def _objective_score(labels, predictions, weights, objective, average: str) -> float:
    """The objective of bool ``predictions`` against bool ``labels`` (``[n, classes]``)
    with row ``weights`` (None: ones), from counts in NumPy (exact integers for bool
    weights, float64 sums otherwise; :func:`jaxthresh.core.metrics.objective_of_totals`)."""
    predictions = np.asarray(predictions, bool)
    if weights is None:
        weights = np.ones(labels.shape[0], np.int64)
    weights = weights.astype(np.int64 if weights.dtype == np.bool_ else np.float64)
    counts = [weights @ m for m in (labels & predictions, predictions, labels)]
    return objective_of_totals(Counts.of(*counts, weights.sum()), objective, average)


def _recorded_fit(method: str, scores, labels, weights, options: dict):
    """The method's fit (a NamedTuple of NumPy arrays) on rows padded with weight 0 (see
    :func:`_padded_size`; weight-0 rows change no fit), and the text of its FitWarnings,
    which are kept from Python's ``warnings`` (the caller issues them); other warnings
    pass through."""
    size = _padded_size(scores.shape[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = jaxthresh.fit(
            method,
            _pad_rows(scores, size, like_first=True),
            _pad_rows(labels, size),
            _pad_rows(weights, size),
            **options,
        )
    messages = []
    for warning in caught:
        if issubclass(warning.category, FitWarning):
            messages.append(str(warning.message))
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return jax.tree.map(np.asarray, jax.device_get(result)), messages


class ThresholdClassifierCV(_ThresholdPredictor):
    """Per-class decision thresholds for a multi-label classifier, chosen on out-of-fold
    scores with any jaxthresh method.

    ``fit(X, y)`` gathers the classifier's scores on each fold of ``cv`` from a clone
    fitted on the other folds, fits one threshold per class on those out-of-fold scores
    (``jaxthresh.fit(method, ...)``), and refits the classifier on every row. ``predict``
    is then ``score > threshold`` per class. See :mod:`jaxthresh.sklearn`.

    Args:
      estimator: a scikit-learn classifier (or ``Pipeline``) that fits 0/1 targets
        ``[n, classes]`` and has ``predict_proba`` or ``decision_function`` giving
        ``[n, classes]`` (or one ``[n, 2]`` array per class). Fitted already for
        ``cv="prefit"``.
      method: the name of any registered jaxthresh method (:data:`jaxthresh.METHODS`:
        "default", "dicho", "numerical", "sgl", "exact", "auto", ...).
      cv: an int >= 2 (``KFold(cv, shuffle=True, random_state=random_state)``), a
        scikit-learn splitter or an iterable of ``(train, test)`` indices whose test sets
        partition the rows, or "prefit": ``estimator`` is fitted already and the data given
        to ``fit`` only chooses the thresholds (no refit, no ``cv_results_``).
      objective: the score the method maximizes, and that ``score`` and ``best_score_``
        report: a name ("f1", "jaccard", "accuracy", "balanced_accuracy", "mcc",
        "precision", "recall") or a :mod:`jaxthresh.objectives` value (``fbeta(2.0)``,
        ``utility(...)``, ``custom(fn)``); ``GridSearchCV`` can search it.
      average: "micro", "macro" or "weighted": its average over classes.
      hyperparameters: None, or a dict of the method's other hyperparameters, as its
        ``fit_<method>`` takes them (for example ``{"epochs": 50}`` for "sgl"); unknown
        names and bad values are a ``ValueError`` naming them.
      random_state: None, an int or a ``numpy.random.RandomState``: shuffles the folds of
        an int ``cv`` and seeds the methods' ``key`` where ``hyperparameters`` gives none.
      response_method: "auto" (``predict_proba`` where the classifier has it, else
        ``decision_function``), "predict_proba" or "decision_function".
      n_jobs: parallel fits of the classifier over the folds (joblib; None is 1).

    Attributes:
      estimator_: the classifier fitted on every row (``estimator`` itself for "prefit").
      thresholds_: float32[classes]: predict class j where its score > ``thresholds_[j]``.
      best_score_: float, the objective of ``thresholds_`` on the out-of-fold scores (on
        the given data for "prefit"): what the method maximized.
      cv_results_: dict of per-fold NumPy arrays (None for "prefit"): ``thresholds``
        float32[folds, classes], fitted on the out-of-fold scores of the other folds;
        ``train_score`` float[folds], their objective there; ``test_score`` float[folds],
        their objective on the fold (an estimate of ``best_score_`` on new rows);
        ``n_test`` int[folds], the fold's rows.
      fit_result_: the method's result (e.g. :class:`jaxthresh.SGLResult`) as NumPy arrays.
      response_method_: the classifier's method that gives the scores.
      classes_: int[classes], ``arange(classes)``, the columns of ``y``.
      class_names_: the column names of a ``DataFrame`` ``y``, else None.
      n_features_in_, feature_names_in_: those of the fitted classifier, where it has them.
    """

    def __init__(
        self,
        estimator,
        *,
        method: str = "sgl",
        cv=5,
        objective="f1",
        average: str = "micro",
        hyperparameters: dict | None = None,
        random_state=None,
        response_method: str = "auto",
        n_jobs: int | None = None,
    ):
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.objective = objective
        self.average = average
        self.hyperparameters = hyperparameters
        self.random_state = random_state
        self.response_method = response_method
        self.n_jobs = n_jobs

    def _options(self, n_classes: int, n_rows: int) -> dict:
        """The method's keyword arguments, checked against its declaration
        (:func:`jaxthresh.methods.configure`): ``hyperparameters``, with ``objective``
        and ``average`` and, for each random key the method declares
        that ``hyperparameters`` leaves unset, one drawn from ``random_state``."""
        validation.choice(self.average, validation.AVERAGES, "average")
        _checked_objective(self.objective)
        declared = get_method(self.method).hyperparameters()
        given = {} if self.hyperparameters is None else self.hyperparameters
        if not isinstance(given, Mapping) or not all(isinstance(k, str) for k in given):
            raise ValueError(
                f"hyperparameters: expected None or a dict of the method's keyword "
                f"arguments, got {type(given).__name__}"
            )
        for own in ("objective", "average"):
            if own in given:
                raise ValueError(
                    f"hyperparameters: {own!r} is a parameter of {type(self).__name__} "
                    f"itself; set {own}= instead"
                )
        options = {**given, "objective": self.objective, "average": self.average}
        random_state = check_random_state(self.random_state)
        for name, spec in declared.items():
            if spec.kind == "key" and options.get(name) is None:
                options[name] = jax.random.key(random_state.randint(np.iinfo(np.int32).max))
        configure(self.method, n_classes, n_rows, **options)  # every value checked
        return options

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Chooses the thresholds and fits the classifier.

        Args:
          X: ``[n, features]``, as the classifier takes it.
          y: 0/1 or bool ``[n, classes]`` (NumPy, lists, a DataFrame, a sparse matrix).
          sample_weight: None, or ``[n]`` non-negative row weights: given to the
            classifier's fit where it takes ``sample_weight``, and to the thresholds'
            fit and scores always.
          **fit_params: passed to the classifier's fit (array-likes indexed per fold).

        Returns:
          self.
        """
        get_method(self.method)
        prefit = _is_prefit(self.cv)
        _check_estimator(self.estimator, needs_fit=not prefit)
        response_method = _check_response_method(self.response_method, self.estimator)
        labels, names = _check_labels(y, type(self).__name__)
        n_rows, n_classes = labels.shape
        if _num_samples(X) != n_rows:
            raise ValueError(f"y: has {n_rows} rows but X has {_num_samples(X)}")
        X, y = indexable(X, np.asarray(y) if isinstance(y, list | tuple) else y)
        weights = _check_sample_weight(sample_weight, n_rows)
        options = self._options(n_classes, n_rows)
        splitter = None if prefit else _check_cv(self.cv, self.random_state)
        for_classifier = weights
        if weights is not None and not has_fit_parameter(self.estimator, "sample_weight"):
            for_classifier = None
            if not prefit:
                warnings.warn(
                    f"sample_weight: {type(self.estimator).__name__}.fit does not take "
                    "sample_weight; the weights apply to the thresholds only",
                    UserWarning,
                    stacklevel=2,
                )

        if prefit:
            if not _is_fitted(self.estimator):
                raise ValueError(
                    f"cv: 'prefit' needs an estimator that is already fitted; "
                    f"{type(self.estimator).__name__} is not (fit it, or use cv=5)"
                )
            self.estimator_ = self.estimator
            scores = _scores(self.estimator_, X, response_method, n_classes)
            folds = None
        else:
            try:
                splits = list(splitter.split(X, y))
            except ValueError as error:  # StratifiedKFold on multi-label y, too few rows...
                raise ValueError(f"cv: {error}") from None
            folds = _test_folds(splits, n_rows)
            _check_fold_weights(weights, folds)
            scores = self._out_of_fold_scores(
                X, y, for_classifier, fit_params, splits, response_method, n_classes
            )
            self.estimator_ = _fit_estimator(
                clone(self.estimator), X, y, for_classifier, fit_params
            )

        # One row-weight array for the final fit and the fold fits (one compiled program).
        row_weights = np.ones(n_rows, bool) if weights is None else weights.astype(np.float32)
        result, messages = _recorded_fit(self.method, scores, labels, row_weights, options)
        for message in messages:
            warnings.warn(message, FitWarning, stacklevel=2)
        thresholds = np.asarray(result.thresholds, np.float32)
        self.thresholds_ = thresholds
        self.fit_result_ = result
        self.best_score_ = self._score_of(scores, labels, thresholds, row_weights)
        self.cv_results_ = (
            None
            if folds is None
            else self._cross_validation(scores, labels, row_weights, folds, options, messages)
        )
        self.response_method_ = response_method
        self.classes_ = np.arange(n_classes)
        self.class_names_ = names
        self._set_input_attributes()
        self._record = self._thresholds_record(result, n_rows, options)
        return self

    def _out_of_fold_scores(self, X, y, weights, fit_params, splits, method, n_classes):
        """``[n, classes]``: each row's scores from a clone fitted on the other folds."""
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_estimator)(clone(self.estimator), X, y, weights, fit_params, train)
            for train, _ in splits
        )
        scores = None
        for (_, test), estimator in zip(splits, fitted, strict=True):
            fold_scores = _scores(estimator, _safe_indexing(X, test), method, n_classes)
            if scores is None:
                scores = np.empty((_num_samples(X), n_classes), fold_scores.dtype)
            scores[test] = fold_scores
        return scores

    def _thresholds_record(self, result, n_rows: int, options: dict):
        """What :meth:`save_thresholds` writes (its class names are filled in then)."""
        config = configure(self.method, len(self.thresholds_), n_rows, **options)
        summary = {**config.summary(result), "response_method": self.response_method_}
        if self.cv_results_ is not None:
            summary["cross_validation"] = {
                "folds": len(self.cv_results_["test_score"]),
                "heldout_score": [round(float(v), 6) for v in self.cv_results_["test_score"]],
            }
        return thresholds_file.ThresholdsRecord(
            method=self.method,
            hyperparameters=config.record(),
            objective=config.objective.record(),
            average=self.average,
            class_names=[],
            thresholds=self.thresholds_,
            slopes=thresholds_file.recorded_slopes(config, result),
            score=self.best_score_,
            n_rows=n_rows,
            summary=summary,
        )

    def _score_of(self, scores, labels, thresholds, weights) -> float:
        predictions = jaxthresh.apply_thresholds(scores, thresholds)
        return _objective_score(labels, predictions, weights, *self._objective())

    def _cross_validation(self, scores, labels, weights, folds, options, final_messages):
        """Per fold: thresholds fitted on the other folds' out-of-fold scores, their
        F-beta there and on the fold."""
        n_folds = int(folds.max()) + 1
        thresholds, train_score, test_score, messages = [], [], [], []
        for fold in range(n_folds):
            held_out = folds == fold
            fitting = np.where(held_out, 0, weights).astype(weights.dtype)
            testing = np.where(held_out, weights, 0).astype(weights.dtype)
            result, caught = _recorded_fit(self.method, scores, labels, fitting, options)
            fold_thresholds = np.asarray(result.thresholds, np.float32)
            thresholds.append(fold_thresholds)
            train_score.append(self._score_of(scores, labels, fold_thresholds, fitting))
            test_score.append(self._score_of(scores, labels, fold_thresholds, testing))
            messages.append(caught)
        _fold_warnings(messages, set(final_messages))
        return {
            "thresholds": np.stack(thresholds),
            "train_score": np.asarray(train_score),
            "test_score": np.asarray(test_score),
            "n_test": np.bincount(folds, minlength=n_folds),
        }

    def save_thresholds(self, path: str | os.PathLike, class_names=None) -> None:
        """Writes the thresholds to a ``thresholds.json`` (format of
        :mod:`jaxthresh.cli.thresholds_file`) for :class:`FixedThresholdClassifier` or
        ``jaxthresh apply``: method, hyperparameters, thresholds, ``best_score_`` as the
        F-beta on the fitting (out-of-fold) scores, and ``response_method`` in its summary.

        Args:
          path: the file, written atomically.
          class_names: one string per class; default ``class_names_`` (a DataFrame's
            columns), else ``class_0, class_1, ...``.
        """
        check_is_fitted(self)
        n_classes = len(self.thresholds_)
        names = class_names if class_names is not None else self.class_names_
        if names is None:
            names = thresholds_file.default_class_names(n_classes)
        names = list(names)
        if len(names) != n_classes or not all(isinstance(name, str) for name in names):
            raise ValueError(
                f"class_names: expected {n_classes} strings, one per class, got {names!r}"
            )
        thresholds_file.write_thresholds(path, self._record._replace(class_names=names))


# ---------------------------------------------------------------------------------------
# FixedThresholdClassifier


class FixedThresholdClassifier(_ThresholdPredictor):
    """A multi-label classifier that predicts ``score > threshold`` with given per-class
    thresholds: the deployment of thresholds chosen by :class:`ThresholdClassifierCV` (or
    ``jaxthresh fit``).

    Predicts without ``fit`` when ``estimator`` is fitted already (as scikit-learn's own
    ``FixedThresholdClassifier`` does): ``thresholds`` is then read at each prediction and
    checked against the classes the classifier's scores give (one number serves them
    all; a binary classifier's ``predict_proba`` ``[n, 2]`` is one class).
    ``fit(X, y)`` fits a clone of ``estimator`` and reads the thresholds once, checked
    against the classes of ``y``.

    Args:
      estimator: a multi-label classifier (see :class:`ThresholdClassifierCV`).
      thresholds: the path of a ``thresholds.json``, an array ``[classes]``, or one number
        for every class.
      response_method: "auto" (the method recorded in the thresholds file, else
        ``predict_proba`` where the classifier has it, else ``decision_function``),
        "predict_proba" or "decision_function".

    Attributes (after ``fit``):
      estimator_: the fitted clone.
      thresholds_: ``[classes]``, float32 (float64 where given so: compared in float64).
      response_method_, classes_, class_names_, n_features_in_, feature_names_in_: as for
        :class:`ThresholdClassifierCV`.
    """

    def __init__(self, estimator, thresholds, *, response_method: str = "auto"):
        self.estimator = estimator
        self.thresholds = thresholds
        self.response_method = response_method

    def _saved(self):
        """``(thresholds [classes] or a scalar, float32 or the float64 given, class names
        or None, recorded response method or None, objective, average)`` from
        ``thresholds``."""
        value = self.thresholds
        if isinstance(value, str | os.PathLike):
            record = thresholds_file.read_thresholds(value)
            names = thresholds_file.named_classes(record.class_names)
            recorded = (record.summary or {}).get("response_method")
            objective = thresholds_file.recorded_objective(record) or objectives.get("f1")
            return record.thresholds, names, recorded, objective, record.average
        array = np.asarray(value) if value is not None else None
        if array is None or array.dtype.hasobject or array.dtype.kind not in "iuf":
            raise ValueError(
                f"thresholds: expected the path of a thresholds.json, an array of numbers "
                f"or a number, got {type(value).__name__}"
            )
        if array.ndim > 1 or array.size == 0:
            raise ValueError(
                f"thresholds: expected one number per class (1-D) or one number, got shape "
                f"{array.shape}"
            )
        with np.errstate(over="ignore"):
            single = array.astype(np.float32)
        # float64 thresholds are kept: apply_thresholds compares them as NumPy does.
        thresholds = array if array.dtype == np.float64 else single
        if not np.all(np.isfinite(single)):
            if array.ndim == 0:
                raise ValueError(f"thresholds: must be a finite number (as float32), got {value!r}")
            bad = np.flatnonzero(~np.isfinite(single))
            raise ValueError(
                f"thresholds: must be finite numbers (as float32), got {array[bad[0]].item()!r} "
                f"at class {bad[0]} ({len(bad)} such values)"
            )
        return thresholds, None, None, objectives.get("f1"), "micro"

    def _sized(self, thresholds: np.ndarray, n_classes: int, of_y: bool) -> np.ndarray:
        """float32[n_classes]: ``thresholds`` (one number: for every class), checked
        against the ``n_classes`` of ``y`` (``of_y``) or of the classifier's scores."""
        if thresholds.ndim == 0:
            return np.full(n_classes, thresholds, thresholds.dtype)
        if len(thresholds) != n_classes:
            where = ""
            if isinstance(self.thresholds, str | os.PathLike):
                where = f" in {os.fspath(self.thresholds)}"
            plural = "" if n_classes == 1 else "es"
            counted = (
                f"the {n_classes} class{plural} of y"
                if of_y
                else f"a classifier of {n_classes} class{plural}"
            )
            raise ValueError(
                f"thresholds: {len(thresholds)} value{'' if len(thresholds) == 1 else 's'}"
                f"{where} for {counted}"
            )
        return thresholds

    def _method(self, estimator, recorded: str | None) -> str:
        """The response method: ``response_method``, or for "auto" the one ``recorded``
        in the thresholds file where it names one; checked against the file."""
        if self.response_method == "auto" and recorded in RESPONSE_METHODS[1:]:
            if not hasattr(estimator, recorded):
                raise ValueError(
                    f"thresholds: fitted on {recorded} scores, which "
                    f"{type(estimator).__name__} does not have"
                )
            return recorded
        method = _check_response_method(self.response_method, estimator)
        if recorded is not None and recorded != method:
            raise ValueError(
                f"response_method: the thresholds were fitted on {recorded} scores, not {method}"
            )
        return method

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fits a clone of the classifier on ``(X, y)`` and reads the thresholds.

        Args:
          X: ``[n, features]``.
          y: 0/1 ``[n, classes]``, as many classes as thresholds (and the same names,
            where ``y`` is a DataFrame and the file names its classes).
          sample_weight: None, or ``[n]``: given to the classifier's fit where it takes
            ``sample_weight``.
          **fit_params: passed to the classifier's fit.

        Returns:
          self.
        """
        _check_estimator(self.estimator, needs_fit=True)
        labels, names = _check_labels(y, type(self).__name__)
        if _num_samples(X) != labels.shape[0]:
            raise ValueError(f"y: has {labels.shape[0]} rows but X has {_num_samples(X)}")
        X, y = indexable(X, np.asarray(y) if isinstance(y, list | tuple) else y)
        weights = _check_sample_weight(sample_weight, labels.shape[0])
        thresholds, saved_names, recorded, *_ = self._saved()
        thresholds = self._sized(thresholds, labels.shape[1], of_y=True)
        if saved_names is not None and names is not None:
            for column, (ours, theirs) in enumerate(zip(saved_names, names, strict=True)):
                if ours != theirs:
                    raise ValueError(
                        f"thresholds: class {column} is {ours!r} in the file but {theirs!r} in y"
                    )
        method = self._method(self.estimator, recorded)
        if weights is not None and not has_fit_parameter(self.estimator, "sample_weight"):
            warnings.warn(
                f"sample_weight: {type(self.estimator).__name__}.fit does not take "
                "sample_weight; it is ignored",
                UserWarning,
                stacklevel=2,
            )
            weights = None
        self.estimator_ = _fit_estimator(clone(self.estimator), X, y, weights, fit_params)
        self.thresholds_ = thresholds
        self.response_method_ = method
        self.classes_ = np.arange(labels.shape[1])
        self.class_names_ = saved_names if saved_names is not None else names
        self._set_input_attributes()
        return self

    def _scored(self, X, method: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """After ``fit``, as for every estimator; without it, the scores of the wrapped
        (fitted) classifier, with ``thresholds`` read now and checked against the number
        of classes its scores give (:func:`_class_count`)."""
        if hasattr(self, "estimator_"):
            return super()._scored(X, method)
        if not _is_fitted(self.estimator):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet, nor is its "
                "estimator: call fit, or wrap a fitted classifier"
            )
        thresholds, _, recorded, *_ = self._saved()
        response_method = self._method(self.estimator, recorded)
        scores = _scores(self.estimator, X, method or response_method, None)
        return scores, self._sized(thresholds, scores.shape[1], of_y=False)

    def _objective(self) -> tuple:
        _, _, _, objective, average = self._saved()
        return objective, average

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted, or wrapping a fitted classifier (it predicts without ``fit``)."""
        return hasattr(self, "estimator_") or _is_fitted(self.estimator)
