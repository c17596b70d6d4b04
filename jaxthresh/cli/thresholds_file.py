"""``thresholds.json``: the versioned file that carries fitted thresholds to new data.

Format version 1, a JSON object:

=====================  =====================================================================
key                    value
=====================  =====================================================================
``format``             ``"jaxthresh.thresholds"``
``format_version``     ``1``
``jaxthresh_version``  the version that wrote the file
``method``             the fitting method (``"sgl"``, ``"exact"``, ...)
``hyperparameters``    the method's hyperparameters (JSON values)
``average``            ``"micro"`` or ``"macro"``: the F-beta that was maximized
``beta``               its beta
``class_names``        one name per class (``class_0``, ... when the input had none)
``thresholds``         one float per class; predict a class where ``score > threshold``
``slopes``             one float per class where the method learns them, else ``null``
``fit_f1``             the F-beta the thresholds reach on the fitting data, in [0, 1]
``n_rows``             the number of fitting rows
``summary``            figures of the fit worth keeping (``auto``: the winner and its inner
                       cross-validated score; ``exact``: its score and Dinkelbach passes)
``created``            creation time, ISO 8601 in UTC
=====================  =====================================================================

Readers refuse other formats and newer versions.
"""

from __future__ import annotations

import datetime
import json
import os
from typing import Any, NamedTuple

import numpy as np

from jaxthresh.cli.files import class_name_list, float32_list, write_json_atomic

FORMAT = "jaxthresh.thresholds"
FORMAT_VERSION = 1


class ThresholdsRecord(NamedTuple):
    """The content of a ``thresholds.json`` file (see the module docstring)."""

    method: str
    hyperparameters: dict[str, Any]
    average: str
    beta: float
    class_names: list[str]
    thresholds: np.ndarray
    slopes: np.ndarray | None
    fit_f1: float
    n_rows: int
    summary: dict[str, Any] | None = None
    jaxthresh_version: str = ""
    created: str = ""


def default_class_names(n_classes: int) -> list[str]:
    """``class_0, class_1, ...``: the names of classes that came without names."""
    return [f"class_{i}" for i in range(n_classes)]


def write_thresholds(path: str | os.PathLike, record: ThresholdsRecord) -> None:
    """Writes ``record`` to ``path`` atomically, stamping version and creation time."""
    from jaxthresh import __version__

    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "jaxthresh_version": __version__,
        "method": record.method,
        "hyperparameters": record.hyperparameters,
        "average": record.average,
        "beta": record.beta,
        "class_names": list(record.class_names),
        "thresholds": float32_list(record.thresholds),
        "slopes": None if record.slopes is None else float32_list(record.slopes),
        "fit_f1": round(float(record.fit_f1), 6),
        "n_rows": int(record.n_rows),
        "summary": record.summary or {},
        "created": created,
    }
    write_json_atomic(path, document)


def read_thresholds(path: str | os.PathLike) -> ThresholdsRecord:
    """Reads and checks a ``thresholds.json`` file.

    Raises:
      ValueError: missing, unreadable, not this format, a newer version, or inconsistent
        (thresholds and class names of different lengths, non-finite thresholds).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"thresholds: file not found: {path}")
    try:
        with open(path) as stream:
            document = json.load(stream)
    except (OSError, UnicodeDecodeError, RecursionError, json.JSONDecodeError) as error:
        raise ValueError(f"thresholds: cannot read {path}: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"thresholds: {path} is not a {FORMAT} file")
    version = document.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ValueError(
            f"thresholds: {path} has format version {version!r}; this jaxthresh reads up to "
            f"{FORMAT_VERSION}"
        )
    try:
        thresholds = np.asarray(document["thresholds"], np.float32)
        names = class_name_list(document["class_names"])
        slopes = document.get("slopes")
        record = ThresholdsRecord(
            method=str(document["method"]),
            hyperparameters=dict(document.get("hyperparameters", {})),
            average=str(document.get("average", "micro")),
            beta=float(document.get("beta", 1.0)),
            class_names=names,
            thresholds=thresholds,
            slopes=None if slopes is None else np.asarray(slopes, np.float32),
            fit_f1=float(document.get("fit_f1", float("nan"))),
            n_rows=int(document.get("n_rows", 0)),
            summary=dict(document.get("summary", {})),
            jaxthresh_version=str(document.get("jaxthresh_version", "")),
            created=str(document.get("created", "")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"thresholds: {path} is malformed: {error!r}") from None
    if thresholds.ndim != 1 or len(names) != len(thresholds):
        raise ValueError(
            f"thresholds: {path} has {thresholds.size} thresholds for {len(names)} class names"
        )
    if not np.isfinite(thresholds).all():
        raise ValueError(f"thresholds: {path} holds non-finite thresholds")
    if record.slopes is not None and record.slopes.shape != thresholds.shape:
        raise ValueError(
            f"thresholds: {path} has {record.slopes.size} slopes for {len(names)} classes"
        )
    return record


def check_classes(record: ThresholdsRecord, n_classes: int, class_names=None) -> None:
    """Refuses scores whose classes do not match the thresholds file: the counts, or the
    first differing name where the scores have names."""
    if len(record.thresholds) != n_classes:
        raise ValueError(
            f"thresholds: the file has {len(record.thresholds)} classes, the scores have "
            f"{n_classes}"
        )
    if class_names is not None:
        for column, (ours, theirs) in enumerate(zip(record.class_names, class_names, strict=True)):
            if ours != theirs:
                raise ValueError(
                    f"thresholds: class {column} is {ours!r} in the file but {theirs!r} in "
                    "the scores"
                )
