"""``thresholds.json``: the versioned file that carries fitted thresholds to new data.

Format version 2, a JSON object:

=====================  =====================================================================
key                    value
=====================  =====================================================================
``format``             ``"jaxthresh.thresholds"``
``format_version``     ``2``
``jaxthresh_version``  the version that wrote the file
``method``             the fitting method (``"sgl"``, ``"exact"``, ...)
``hyperparameters``    the method's hyperparameters (JSON values)
``objective``          the objective maximized: its name (``"f1"``, ``"jaccard"``...), or an
                       object with its coefficients (``{"name": "fbeta", "beta": 2.0}``,
                       ``{"name": "utility", "tp": 1.0, "fp": -0.2, "fn": -1.0, "tn": 0.0}``,
                       ``{"name": "custom"}``: a function, not recorded)
``average``            ``"micro"``, ``"macro"`` or ``"weighted"``: how it was averaged
``class_names``        one name per class (``class_0``, ... when the input had none: such
                       names mean "unnamed", :func:`named_classes`)
``thresholds``         one float per class; predict a class where ``score > threshold``
``slopes``             one float per class where the method learns them, else ``null``
``score``              the objective the thresholds reach on the fitting data
``n_rows``             the number of fitting rows
``summary``            figures of the fit worth keeping (``auto``: the winner and its inner
                       cross-validated score; ``exact``: its score and Dinkelbach passes;
                       with ``jaxthresh fit --cv_folds``, ``cross_validation``: the folds
                       and each fold's held-out F-beta)
``created``            creation time, ISO 8601 in UTC
=====================  =====================================================================

Readers refuse other formats and newer versions; files of version 1 (``beta`` and
``fit_f1`` in place of ``objective`` and ``score``: F-beta) still load. :func:`fit_record`
makes the record of a fit, in Python (class names from a pandas DataFrame's columns) and
in the tool alike.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from typing import Any, NamedTuple

import numpy as np

from jaxthresh.cli.files import check_input_file, float32_list, write_json_atomic

FORMAT = "jaxthresh.thresholds"
#: How a custom objective is recorded: by name, its function is not.
CUSTOM = {"name": "custom"}
#: The averages a file may name.
AVERAGES = ("micro", "macro", "weighted")
FORMAT_VERSION = 2


class ThresholdsRecord(NamedTuple):
    """The content of a ``thresholds.json`` file (see the module docstring)."""

    method: str
    hyperparameters: dict[str, Any]
    objective: str | dict[str, Any]
    average: str
    class_names: list[str]
    thresholds: np.ndarray
    slopes: np.ndarray | None
    score: float
    n_rows: int
    summary: dict[str, Any] | None = None
    jaxthresh_version: str = ""
    created: str = ""


def default_class_names(n_classes: int) -> list[str]:
    """``class_0, class_1, ...``: the names of classes that came without names."""
    return [f"class_{i}" for i in range(n_classes)]


def named_classes(names) -> list[str] | None:
    """``names`` as a list, or None where there are none or they are the generated
    :func:`default_class_names` (``class_0, class_1, ...`` in order): classes so named are
    unnamed, and pair with others by position only."""
    if names is None:
        return None
    names = list(names)
    return None if names == default_class_names(len(names)) else names


def recorded_slopes(config, result) -> np.ndarray | None:
    """The slopes ``result`` learned (``config.slopes``), as recorded; None if none."""
    slopes = config.slopes(result)
    return None if slopes is None else np.asarray(slopes)


def fit_record(
    method: str,
    scores,
    labels,
    result,
    sample_weight=None,
    *,
    class_names=None,
    summary=None,
    **hyperparameters,
) -> ThresholdsRecord:
    """The record of ``result = jaxthresh.fit(method, scores, labels, sample_weight,
    **hyperparameters)`` (the one function that records and scores a fit: the tool and
    the estimators use it): the objective on the fitting rows (counted block by block,
    no copy of the scores), the method's summary, and class names from ``class_names``,
    else from the columns of the scores (or labels) if they are a pandas ``DataFrame``,
    else ``class_0, class_1, ...``. Write it with :func:`write_thresholds`;
    ``jaxthresh apply`` and ``evaluate`` read it.

    Args:
      method: the method's name.
      scores, labels: the fitting rows ``[n, classes]`` (NumPy, JAX or pandas DataFrames).
      result: the fit's result.
      sample_weight: the fit's weights of rows ``[n]`` or labels ``[n, classes]``, or None.
      class_names: one name per class, or None.
      summary: more figures for ``summary`` (merged into the method's own).
      **hyperparameters: those the fit was given.

    Raises:
      ValueError: labels (or ``class_names``) that name other classes than the scores'
        DataFrame columns, or not in the same order, naming the first that differs.
    """
    from jaxthresh.core import frames  # Kept local: reading files needs no JAX.
    from jaxthresh.methods import configure

    values = scores.to_numpy() if frames.column_names(scores) is not None else np.asarray(scores)
    n_rows, n_classes = values.shape
    names = frames.class_names(scores, labels, class_names)
    if names is not None and len(names) != n_classes:
        raise ValueError(f"class_names: {len(names)} names for {n_classes} classes")
    config = configure(method, n_classes, **hyperparameters)
    thresholds = np.asarray(result.thresholds)
    return ThresholdsRecord(
        method=method,
        hyperparameters=config.record(),
        objective=config.objective.record(),
        average=config.average,
        class_names=names or default_class_names(n_classes),
        thresholds=thresholds,
        slopes=recorded_slopes(config, result),
        score=score_of(
            config.objective, config.average, values, np.asarray(labels), thresholds, sample_weight
        ),
        n_rows=n_rows,
        summary={**config.summary(result), **(summary or {})},
    )


def score_of(
    objective,
    average: str,
    scores,
    labels,
    thresholds,
    sample_weight=None,
    *,
    min_labels: int = 0,
    max_labels: int | None = None,
) -> float:
    """The ``objective`` (averaged as ``average``) of ``scores > thresholds`` (decoded
    with ``min_labels`` and ``max_labels`` as :func:`jaxthresh.apply_thresholds` does)
    against ``labels``, from exact counts: block by block without weights (no copy of the
    scores), else :func:`jaxthresh.score_predictions`."""
    from jaxthresh.cli import blocks
    from jaxthresh.core.metrics import Counts, objective_of_totals, score_predictions
    from jaxthresh.core.thresholds import apply_thresholds

    if sample_weight is not None:
        predictions = apply_thresholds(
            scores, thresholds, min_labels=min_labels, max_labels=max_labels
        )
        return score_predictions(
            labels, predictions, objective=objective, average=average, sample_weight=sample_weight
        )
    true_positives, predicted, positives = blocks.confusion_counts(
        labels, scores, thresholds, min_labels=min_labels, max_labels=max_labels
    )
    counts = Counts.of(true_positives, predicted, positives, len(scores))
    return objective_of_totals(counts, objective, average)


def recorded_objective(record: ThresholdsRecord):
    """The record's objective as a :class:`jaxthresh.objectives.Objective`, or None for a
    custom one (its function is not recorded). Checked when the file was read."""
    from jaxthresh import objectives  # Kept local: reading files needs no JAX.

    if record.objective == CUSTOM:
        return None
    return objectives.from_record(record.objective)


def write_thresholds(path: str | os.PathLike, record: ThresholdsRecord, name: str = "path") -> None:
    """Writes ``record`` to ``path`` atomically, stamping version and creation time; a
    failure is a ``ValueError`` starting with ``name`` (the argument or flag of ``path``)."""
    from jaxthresh import __version__

    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "jaxthresh_version": __version__,
        "method": record.method,
        "hyperparameters": record.hyperparameters,
        "objective": record.objective,
        "average": record.average,
        "class_names": list(record.class_names),
        "thresholds": float32_list(record.thresholds),
        "slopes": None if record.slopes is None else float32_list(record.slopes),
        "score": round(float(record.score), 6),
        "n_rows": int(record.n_rows),
        "summary": record.summary or {},
        "created": created,
    }
    write_json_atomic(path, document, name)


def read_thresholds(path: str | os.PathLike) -> ThresholdsRecord:
    """Reads and checks a ``thresholds.json`` file.

    Every key is checked for its type: numbers are JSON numbers (not strings, not
    ``true``), lists are flat, thresholds and slopes finite as float32, ``format_version``
    an integer; an object may not repeat a key.

    Raises:
      ValueError: missing, unreadable, not this format, a newer version, or a key of the
        wrong type or value: one line naming the file and the key.
    """
    path = check_input_file(path, "thresholds")
    try:
        with open(path, encoding="utf-8-sig") as stream:  # a byte-order mark is skipped
            document = json.load(stream, object_pairs_hook=_unique_keys)
    except (OSError, UnicodeDecodeError, RecursionError, json.JSONDecodeError) as error:
        raise ValueError(f"thresholds: cannot read {path}: {error}") from None
    except _RepeatedKey as error:
        raise ValueError(f"thresholds: {path} repeats the key {error.args[0]!r}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"thresholds: {path} is not a {FORMAT} file")
    keys = _Keys(document, path)
    version = keys.integer("format_version", required=True)
    if not 1 <= version <= FORMAT_VERSION:
        raise ValueError(
            f"thresholds: {path} has format version {version}; this jaxthresh reads up to "
            f"{FORMAT_VERSION}"
        )
    names = keys.names("class_names")
    thresholds = keys.float32_list("thresholds", required=True)
    if not len(thresholds):
        raise ValueError(f"thresholds: {path} has no thresholds")
    if len(names) != len(thresholds):
        raise ValueError(
            f"thresholds: {path} has {len(thresholds)} thresholds for {len(names)} class names"
        )
    slopes = keys.float32_list("slopes")
    if slopes is not None and len(slopes) != len(thresholds):
        raise ValueError(
            f"thresholds: {path} has {len(slopes)} slopes for {len(thresholds)} classes"
        )
    average = keys.string("average", "micro")
    if average not in AVERAGES:
        raise ValueError(
            f"thresholds: {path}: 'average' must be one of {', '.join(AVERAGES)}, got {average!r}"
        )
    if version == 1:  # F-beta: its beta, and its score as fit_f1
        beta = keys.number("beta", 1.0)
        if not (math.isfinite(beta) and beta > 0):
            raise ValueError(f"thresholds: {path}: 'beta' must be finite and > 0, got {beta!r}")
        objective = "f1" if beta == 1 else {"name": "fbeta", "beta": beta}
        score = keys.number("fit_f1", float("nan"))
        if "fit_f1" in document and not 0 <= score <= 1:
            raise ValueError(f"thresholds: {path}: 'fit_f1' must be in [0, 1], got {score!r}")
    else:
        objective = keys.objective("objective")
        score = keys.number("score", float("nan"))
    n_rows = keys.integer("n_rows", 0)
    if n_rows < 0:
        raise ValueError(f"thresholds: {path}: 'n_rows' must be >= 0, got {n_rows}")
    return ThresholdsRecord(
        method=keys.string("method", required=True),
        hyperparameters=keys.mapping("hyperparameters"),
        objective=objective,
        average=average,
        class_names=names,
        thresholds=thresholds,
        slopes=slopes,
        score=score,
        n_rows=n_rows,
        summary=keys.mapping("summary"),
        jaxthresh_version=keys.string("jaxthresh_version", ""),
        created=keys.string("created", ""),
    )


class _RepeatedKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = {}
    for key, value in pairs:
        if key in document:
            raise _RepeatedKey(key)
        document[key] = value
    return document


def _described(value) -> str:
    """A JSON value as a reader knows it: ``the string '0.6'``, ``true``, ``a list``..."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:20] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return _short(value)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Keys:
    """Typed reads of the keys of a JSON object, each failure one line naming the key."""

    def __init__(self, document: dict, path: str):
        self.document, self.path = document, path

    def _get(self, key: str, required: bool):
        if key not in self.document:
            if required:
                raise ValueError(f"thresholds: {self.path} has no {key!r}")
            return None
        return self.document[key]

    def _wrong(self, key: str, expected: str, value) -> ValueError:
        return ValueError(
            f"thresholds: {self.path}: {key!r} must be {expected}, got {_described(value)}"
        )

    def integer(self, key: str, default: int = 0, *, required: bool = False) -> int:
        value = self._get(key, required)
        if value is None and not required:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(key, "an integer", value)
        return value

    def number(self, key: str, default: float) -> float:
        value = self._get(key, False)
        if value is None and key not in self.document:
            return default
        if not _is_number(value):
            raise self._wrong(key, "a number", value)
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float
            raise self._wrong(key, "a finite number", value) from None

    def string(self, key: str, default: str = "", *, required: bool = False) -> str:
        value = self._get(key, required)
        if value is None and key not in self.document:
            return default
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        return value

    def objective(self, key: str) -> str | dict:
        """An objective as :meth:`jaxthresh.objectives.Objective.record` writes it: a name,
        or an object with a string ``name`` and numbers (or flat lists of numbers)."""
        value = self._get(key, False)
        if value is None:
            return "f1"
        if isinstance(value, str):
            return self.known_objective(key, value)
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            raise self._wrong(key, "a name or an object with a 'name'", value)
        for name, item in value.items():
            items = item if isinstance(item, list) else [item]
            if name != "name" and not all(_is_number(x) and math.isfinite(x) for x in items):
                raise self._wrong(f"{key}.{name}", "a finite number or a list of them", item)
        return self.known_objective(key, value)

    def known_objective(self, key: str, value):
        """``value`` if :func:`jaxthresh.objectives.from_record` reads it (a custom
        objective is recorded by name only), else one line naming the file and the key."""
        from jaxthresh import objectives  # Kept local: only version-2 files need it.

        if value == CUSTOM:
            return value
        try:
            objectives.from_record(value)
        except ValueError as error:
            reason = str(error).removeprefix("objective: ")
            raise ValueError(f"thresholds: {self.path}: {key!r}: {reason}") from None
        return value

    def mapping(self, key: str) -> dict:
        value = self._get(key, False)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self._wrong(key, "an object", value)
        return value

    def names(self, key: str) -> list[str]:
        value = self._get(key, True)
        if not isinstance(value, list):
            raise self._wrong(key, "a list of strings", value)
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self._wrong(f"{key}[{index}]", "a string", item)
        return list(value)

    def float32_list(self, key: str, *, required: bool = False) -> np.ndarray | None:
        """A flat list of numbers, each finite as float32, as float32[n]; None for null."""
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._wrong(key, "a list of numbers", value)
        result = np.empty(len(value), np.float32)
        for index, item in enumerate(value):
            if not _is_number(item):
                raise self._wrong(f"{key}[{index}]", "a number (the list must be flat)", item)
            try:
                with np.errstate(over="ignore"):
                    result[index] = item
            except OverflowError:  # an integer beyond any float
                result[index] = np.inf
            if not np.isfinite(result[index]):
                raise ValueError(
                    f"thresholds: {self.path}: '{key}[{index}]' is {_short(item)}, not finite as "
                    "float32 (largest: 3.4028235e+38)"
                )
        return result


def check_classes(record: ThresholdsRecord, n_classes: int, class_names=None) -> None:
    """Refuses scores whose classes do not match the thresholds file: the counts, or the
    first differing name where both name their classes (:func:`named_classes`)."""
    if len(record.thresholds) != n_classes:
        raise ValueError(
            f"thresholds: the file has {len(record.thresholds)} classes, the scores have "
            f"{n_classes}"
        )
    names, class_names = named_classes(record.class_names), named_classes(class_names)
    if names is not None and class_names is not None:
        for column, (ours, theirs) in enumerate(zip(names, class_names, strict=True)):
            if ours != theirs:
                raise ValueError(
                    f"thresholds: class {column} is {ours!r} in the file but {theirs!r} in "
                    "the scores"
                )
