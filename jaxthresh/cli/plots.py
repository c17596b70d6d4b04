"""Pictures of a fit (optional: needs the ``plot`` extra, ``pip install 'jaxthresh[plot]'``).

Every function writes one PNG atomically and returns its path.
"""

from __future__ import annotations

import os

import numpy as np

from jaxthresh.cli.files import write_atomic
from jaxthresh.core import validation
from jaxthresh.core.curves import threshold_curves
from jaxthresh.core.metrics import fbeta_ratio

INSTALL_HINT = "install the plot extra: pip install 'jaxthresh[plot]'"


def require_matplotlib():
    """``matplotlib.pyplot`` on the Agg backend; ``ValueError`` saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ValueError(f"plot_dir: plotting needs matplotlib; {INSTALL_HINT}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(plt, figure, axes, folder: str, name: str, xlabel: str, ylabel: str) -> str:
    """Labels, legend and grid, then the PNG written atomically; returns its path."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if axes.get_legend_handles_labels()[1]:
        axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    write_atomic(path, lambda stream: figure.savefig(stream, format="png", dpi=100), "plot_dir")
    plt.close(figure)
    return path


def learning_curves(histories: dict[str, np.ndarray], folder: str, name: str) -> str:
    """The score per epoch (or step) of each method: ``{method: float[steps]}``."""
    plt = require_matplotlib()
    figure, axes = plt.subplots(figsize=(6, 4))
    for method, history in histories.items():
        history = np.asarray(history, float)
        axes.plot(np.arange(1, len(history) + 1), 100 * history, label=method)
    return _finish(plt, figure, axes, folder, name, "epoch / step", "F1 on the fitting data (%)")


def thresholds_by_frequency(
    thresholds: dict[str, np.ndarray], labels, folder: str, name: str
) -> str:
    """Each method's threshold per class against the class's positive rate (log scale)."""
    plt = require_matplotlib()
    frequency = np.asarray(labels, float).mean(axis=0)
    figure, axes = plt.subplots(figsize=(6, 4))
    for method, values in thresholds.items():
        axes.scatter(np.maximum(frequency, 1e-6), np.asarray(values), s=12, label=method)
    axes.set_xscale("log")
    return _finish(plt, figure, axes, folder, name, "fraction of rows positive", "threshold")


def f1_against_threshold(
    scores, labels, thresholds, folder: str, name: str, *, class_names=None, top: int = 6
) -> str:
    """Per-class F1 against the threshold for the ``top`` most frequent classes, with the
    chosen threshold marked."""
    plt = require_matplotlib()
    scores, labels, _ = (np.asarray(a) for a in validation.as_rows(scores, labels))
    thresholds = np.asarray(validation.per_class(thresholds, scores.shape[1], "thresholds"))
    names = class_names or [f"class_{i}" for i in range(scores.shape[1])]
    frequent = np.argsort(-labels.sum(axis=0), kind="stable")[:top]
    grid = np.linspace(scores.min(), scores.max(), 201)
    figure, axes = plt.subplots(figsize=(6, 4))
    for column in frequent:
        predicted = scores[:, column][None, :] > grid[:, None]
        positive = labels[:, column][None, :]
        f1 = fbeta_ratio(
            (predicted & positive).sum(axis=1), predicted.sum(axis=1), positive.sum(), 1.0, 1.0, np
        )
        (line,) = axes.plot(grid, 100 * f1, label=str(names[column]))
        axes.axvline(thresholds[column], color=line.get_color(), linestyle="--", linewidth=1)
    return _finish(plt, figure, axes, folder, name, "threshold", "F1 of the class (%)")


def precision_recall(
    scores, labels, thresholds, folder: str, name: str, *, class_names=None, top: int = 6
) -> str:
    """Per-class precision against recall at every distinct threshold
    (:func:`jaxthresh.threshold_curves`) for the ``top`` most frequent classes, each with its
    chosen threshold's operating point marked."""
    plt = require_matplotlib()
    scores, labels, _ = (np.asarray(a) for a in validation.as_rows(scores, labels))
    thresholds = np.asarray(validation.per_class(thresholds, scores.shape[1], "thresholds"))
    names = class_names or [f"class_{i}" for i in range(scores.shape[1])]
    frequent = np.argsort(-labels.sum(axis=0), kind="stable")[:top]
    curves = threshold_curves(scores[:, frequent], labels[:, frequent])
    figure, axes = plt.subplots(figsize=(6, 4))
    for slot, column in enumerate(frequent):
        count = int(curves.count[slot])
        recall = 100 * np.asarray(curves.recall[slot, :count])
        precision = 100 * np.asarray(curves.precision[slot, :count])
        (line,) = axes.plot(recall, precision, label=str(names[column]))
        point = operating_point(curves, slot, thresholds[column])
        axes.plot(
            recall[point], precision[point], "o", color=line.get_color(), markeredgecolor="black"
        )
    axes.set_xlim(-2, 102)
    axes.set_ylim(-2, 102)
    axes.set_title("dots: the chosen thresholds", fontsize="small")
    return _finish(plt, figure, axes, folder, name, "recall (%)", "precision (%)")


def operating_point(curves, slot: int, threshold) -> int:
    """The point of class ``slot``'s curve (:class:`jaxthresh.core.curves.Curves`, exact)
    that predicts what ``threshold`` does: the one of the highest threshold at or below it
    (the first point, every row predicted, for a threshold below them all)."""
    points = np.asarray(curves.thresholds[slot, : int(curves.count[slot])])
    return max(int(np.searchsorted(points, np.float32(threshold), side="right")) - 1, 0)


def sweep_curves(grid: dict[str, np.ndarray], heldout, folder: str, prefix: str) -> list[str]:
    """For each swept hyperparameter, mean held-out F1 against it, one line per setting of
    the other swept ones. ``heldout``: float[points, folds]. Returns the PNG paths."""
    plt = require_matplotlib()
    mean = 100 * np.asarray(heldout, float).mean(axis=1)
    paths = []
    for name, values in grid.items():
        others = [n for n in grid if n != name]
        figure, axes = plt.subplots(figsize=(6, 4))
        keys = sorted({tuple(grid[o][i] for o in others) for i in range(len(values))})
        for key in keys:
            chosen = [i for i in range(len(values)) if tuple(grid[o][i] for o in others) == key]
            chosen.sort(key=lambda i: values[i])
            label = ", ".join(f"{o}={v:g}" for o, v in zip(others, key, strict=True)) or None
            axes.plot(values[chosen], mean[chosen], marker="o", label=label)
        axes.set_xscale("log")
        paths.append(
            _finish(
                plt,
                figure,
                axes,
                folder,
                f"{prefix}_{name}.png",
                name,
                "held-out F1, mean over folds (%)",
            )
        )
    return paths


def bootstrap_thresholds(
    resampled, thresholds, labels, folder: str, name: str, *, class_names=None, most: int = 40
) -> str:
    """Each class's bootstrap threshold distribution (:func:`jaxthresh.bootstrap`): per
    class its 95 % interval (a thin line from the 2.5th to the 97.5th percentile), its
    middle half (a thick line) and median, with the threshold fitted on all the rows
    marked, classes ordered by their positive rows; where there are more than ``most``
    classes, the ``most`` with the widest intervals.

    Args:
      resampled: float[resamples, classes], the resamples' thresholds.
      thresholds: float[classes], the fit on all the rows.
      labels: ``[n, classes]`` 0/1, the fitting rows' labels (their positives per class).
    """
    plt = require_matplotlib()
    resampled = np.asarray(resampled, float)
    n_classes = resampled.shape[1]
    names = class_names or [f"class_{i}" for i in range(n_classes)]
    positives = np.count_nonzero(np.asarray(labels) != 0, axis=0)
    low, high = np.percentile(resampled, [2.5, 97.5], axis=0)
    shown = np.arange(n_classes)
    if n_classes > most:
        shown = np.sort(np.argsort(-(high - low), kind="stable")[:most])
    shown = shown[np.argsort(positives[shown], kind="stable")]
    figure, axes = plt.subplots(figsize=(7, 1.5 + 0.25 * len(shown)))
    rows = np.arange(1, len(shown) + 1)
    quartiles = np.percentile(resampled[:, shown], [25, 50, 75], axis=0)
    axes.hlines(rows, low[shown], high[shown], color="tab:blue", linewidth=1, label="95 %")
    axes.hlines(rows, quartiles[0], quartiles[2], color="tab:blue", linewidth=5, label="50 %")
    axes.plot(quartiles[1], rows, "|", color="white", markersize=6)
    fitted = np.asarray(thresholds, float)[shown]
    axes.plot(fitted, rows, "o", color="tab:red", markersize=4, label="fitted on all rows")
    axes.set_yticks(
        rows,
        [f"{names[c]} ({positives[c]})" for c in shown],
        fontsize="x-small",
    )
    title = "bootstrap thresholds of each class (its positive rows)"
    if len(shown) < n_classes:
        title += f"; the {len(shown)} widest of {n_classes} classes"
    axes.set_title(title, fontsize="small")
    return _finish(plt, figure, axes, folder, name, "threshold", "class")
