"""The ``--curves`` CSV of ``jaxthresh evaluate``: per class, precision, recall and the
objective at every threshold (:func:`jaxthresh.threshold_curves`).

Columns ``class, threshold, precision, recall, score, true_positives, predicted, support``;
one line per point, a class's points together in the order of the scores' columns,
thresholds ascending (each point predicts the scores above its threshold). ``score`` is
the class's score of the thresholds file's objective (F1 where the file's objective is a
custom function, which files do not record). Numbers are the shortest decimals that read
back as the same float32 values (counts as integers). The curves are computed a block of
classes at a time and the file is written atomically (:func:`jaxthresh.cli.files.write_atomic`).

Which points (``--curve_bins``, :func:`curve_bins`): every distinct score of every class
where the scores have at most :data:`EXACT_LIMIT` values (rows x classes), else the cuts
between the non-empty cells of :data:`DEFAULT_BINS` equal cells per class;
``--curve_bins=0`` asks for every distinct score whatever the size, ``--curve_bins=N`` for
N cells.
"""

from __future__ import annotations

import csv
import io
import os

import jax
import numpy as np

from jaxthresh.cli.files import write_atomic
from jaxthresh.core import validation
from jaxthresh.core.curves import threshold_curves

#: The most scores (rows x classes) for which curves have every distinct score by default.
EXACT_LIMIT = 1_000_000
#: The cells per class of the curves of larger scores, by default.
DEFAULT_BINS = 1024
#: The columns of the file.
COLUMNS = (
    "class",
    "threshold",
    "precision",
    "recall",
    "score",
    "true_positives",
    "predicted",
    "support",
)
#: Classes are processed in blocks of about this many scores.
BLOCK_SCORES = 1 << 22


def curve_bins(given: int | None, n_rows: int, n_classes: int) -> int | None:
    """The cells per class of the curves: None for every distinct score.

    Args:
      given: ``--curve_bins`` (None if not given; 0 for every distinct score).
      n_rows, n_classes: the scores' shape.
    """
    if given is None:
        return None if n_rows * n_classes <= EXACT_LIMIT else DEFAULT_BINS
    if given < 0:
        raise ValueError(f"curve_bins: must be >= 0 (0: every distinct score), got {given}")
    return validation.bins(given, n_classes, "curve_bins") if given else None


def check_path(path: str) -> str:
    """``--curves``: a .csv path."""
    if os.path.splitext(path)[1].lower() != ".csv":
        raise ValueError(f"curves: the curves file must end in .csv, got {path}")
    return path


def _decimals(values: np.ndarray) -> np.ndarray:
    """Shortest decimals of float32 values (or integers as they are), as strings."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.integer):
        return values.astype(str)
    return values.astype(np.float32).astype(str)


def _quoted(name: str) -> str:
    """A class name as one CSV field (quoted where it needs to be)."""
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow([name])
    return line.getvalue()


def write_curves(
    path: str | os.PathLike, scores, labels, class_names, *, objective, bins: int | None
) -> int:
    """Computes the curves of ``scores`` (float ``[n, classes]``) and bool ``labels`` and
    writes them as the CSV file ``path``; returns the number of points."""
    n_rows, n_classes = scores.shape
    names = np.asarray([_quoted(str(name)) for name in class_names], dtype=object)
    step = max(1, BLOCK_SCORES // max(1, n_rows))
    written = 0

    def write(stream) -> None:
        nonlocal written
        stream.write((",".join(COLUMNS) + "\r\n").encode("utf-8"))
        for first in range(0, n_classes, step):
            columns = slice(first, min(first + step, n_classes))
            curves = jax.device_get(
                threshold_curves(
                    scores[:, columns],
                    labels[:, columns],
                    objective=objective.take_classes(np.arange(n_classes)[columns]),
                    bins=bins,
                )
            )
            mask = np.asarray(curves.mask)
            block_class, _ = np.nonzero(mask)
            fields = [
                names[columns][block_class],
                *(
                    _decimals(np.asarray(field)[mask])
                    for field in (
                        curves.thresholds,
                        curves.precision,
                        curves.recall,
                        curves.score,
                        curves.true_positives,
                        curves.predicted,
                    )
                ),
                _decimals(np.asarray(curves.positives)[block_class]),
            ]
            lines = "".join(",".join(row) + "\r\n" for row in zip(*fields, strict=True))
            stream.write(lines.encode("utf-8"))
            written += len(block_class)

    write_atomic(path, write, "curves")
    return written
