"""Per-class precision, recall, F1 and support of thresholded scores, as a table; and
how much each class's threshold moves across cross-validation folds.

The counts behind a report come from :func:`jaxthresh.cli.blocks.confusion_counts`, a block
of rows at a time, so that a report on scores of any size needs memory for the scores and
labels as given and little more; :func:`report_rows` turns counts into rows.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxthresh.cli import blocks
from jaxthresh.core import frames, validation
from jaxthresh.core.metrics import fbeta_ratio


class ReportRow(NamedTuple):
    """One row of :func:`classification_report`; ``threshold`` is None for micro and macro.
    ``average_precision`` and ``roc_auc`` (threshold-free: of the scores, not of the
    thresholds; the macro row's average precision is the mAP) are None where not computed
    (:func:`with_ranking`), and ``roc_auc`` is NaN for a class without positive or
    negative rows."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int
    threshold: float | None
    average_precision: float | None = None
    roc_auc: float | None = None


def with_ranking(rows: list[ReportRow], average_precision, roc_auc) -> list[ReportRow]:
    """``rows`` (of :func:`report_rows`) with their average precision and ROC AUC:
    ``average_precision`` and ``roc_auc`` are ``{"per_class": float[classes], "macro":
    float}`` (and ``"micro"`` where computed; else the micro row has None)."""

    def value(metric, index):
        if index < len(rows) - 2:
            return float(metric["per_class"][index])
        pooled = metric.get(rows[index].name)
        return None if pooled is None else float(pooled)

    return [
        row._replace(average_precision=value(average_precision, i), roc_auc=value(roc_auc, i))
        for i, row in enumerate(rows)
    ]


def json_rows(rows: list[ReportRow]) -> list[dict]:
    """The rows as JSON objects (NaN, an undefined ROC AUC, as null)."""

    def plain(value):
        return None if isinstance(value, float) and np.isnan(value) else value

    return [{key: plain(value) for key, value in row._asdict().items()} for row in rows]


def _ratio(numerator, denominator, empty):
    return np.where(denominator > 0, numerator / np.maximum(denominator, 1), empty)


def classification_report(labels, scores, thresholds, class_names=None) -> list[ReportRow]:
    """Per-class precision, recall, F1 and support of ``scores > thresholds``, then a micro
    and a macro row.

    Precision of a class with no predictions is 1 if it has no positives either, else 0;
    recall of a class with no positives is 1 if it has no predictions either, else 0; F1
    follows :func:`jaxthresh.f1_score` (1 with nothing to find and nothing predicted).

    The scores and labels stay as given (NumPy arrays are not copied): checks, predictions
    (:func:`jaxthresh.apply_thresholds`) and counts run a block of rows at a time.

    Args:
      labels: 0/1 ``[n, classes]``.
      scores: float[n, classes].
      thresholds: float[classes] or scalar.
      class_names: optional ``classes`` names (default: the columns of a pandas
        DataFrame of scores or labels, else ``class_0``, ...).

    Returns:
      ``classes + 2`` :class:`ReportRow`, the last two named "micro" and "macro".
    """
    class_names = frames.class_names(scores, labels, class_names)
    scores = blocks.check_scores(np.asarray(scores))
    labels = blocks.check_labels(np.asarray(labels), scores.shape)
    thresholds = np.asarray(validation.per_class(thresholds, scores.shape[1], "thresholds"))
    counts = blocks.confusion_counts(labels, scores, thresholds)
    return report_rows(*counts, thresholds, class_names)


def report_rows(tp, pp, pos, thresholds, class_names=None) -> list[ReportRow]:
    """The rows of :func:`classification_report` from per-class counts of true positives
    ``tp``, predicted positives ``pp`` and positives ``pos``."""
    tp, pp, pos = (np.asarray(c, np.int64) for c in (tp, pp, pos))
    names = class_names or [f"class_{i}" for i in range(len(tp))]
    precision = _ratio(tp, pp, (pos == 0).astype(float))
    recall = _ratio(tp, pos, (pp == 0).astype(float))
    f1 = fbeta_ratio(tp, pp, pos, 1.0, 1.0, np)
    rows = [
        ReportRow(str(name), float(p), float(r), float(f), int(s), float(t))
        for name, p, r, f, s, t in zip(names, precision, recall, f1, pos, thresholds, strict=True)
    ]
    total_tp, total_pp, total_pos = tp.sum(), pp.sum(), pos.sum()
    rows.append(
        ReportRow(
            "micro",
            float(_ratio(total_tp, total_pp, float(total_pos == 0))),
            float(_ratio(total_tp, total_pos, float(total_pp == 0))),
            float(fbeta_ratio(total_tp, total_pp, total_pos, 1.0, 1.0, np)),
            int(total_pos),
            None,
        )
    )
    rows.append(
        ReportRow(
            "macro",
            float(precision.mean()),
            float(recall.mean()),
            float(np.mean(f1)),
            int(total_pos),
            None,
        )
    )
    return rows


def score_name(objective, average: str) -> str:
    """``micro-F1``, ``macro-F0.5``, ``micro-jaccard``, ``micro-utility``: the objective (a
    :class:`jaxthresh.objectives.Objective`) and its average."""
    return f"{average}-{objective.label}"


def formatted_score(objective, value: float) -> str:
    """A score as the tool prints it: in percent for objectives bounded by 1 (F-beta,
    Jaccard, accuracy...), as a number for utilities and custom objectives."""
    if objective.name in ("utility", "custom"):
        return f"{value:.6g}"
    return f"{100 * value:.2f}%"


def _percent(value) -> str:
    """A fraction in percent; blank for None, "undefined" for NaN."""
    if value is None:
        return ""
    return "undefined" if np.isnan(value) else f"{100 * value:.2f}"


def markdown_report(rows: list[ReportRow]) -> str:
    """The rows of :func:`classification_report` as a Markdown table (scores in percent),
    with average precision (AP; the macro row's is the mAP) and ROC AUC columns where the
    rows carry them."""
    ranked = any(row.average_precision is not None for row in rows)
    extra = " AP | ROC AUC |" if ranked else ""
    lines = [
        "| class | precision | recall | F1 | support | threshold |" + extra,
        "|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if ranked else ""),
    ]
    for row in rows:
        threshold = "" if row.threshold is None else f"{row.threshold:.4g}"
        line = (
            f"| {row.name} | {100 * row.precision:.2f} | {100 * row.recall:.2f} | "
            f"{100 * row.f1:.2f} | {row.support} | {threshold} |"
        )
        if ranked:
            line += f" {_percent(row.average_precision)} | {_percent(row.roc_auc)} |"
        lines.append(line)
    return "\n".join(lines)


def markdown_sweep(result) -> str:
    """A :class:`jaxthresh.SweepResult` as a Markdown table: each point's hyperparameters,
    mean fit score, and mean (standard deviation) held-out score over folds, in percent."""
    names = list(result.grid)
    fit = 100 * np.asarray(result.fit_score)
    held = 100 * np.asarray(result.heldout_score)
    lines = [
        "| " + " | ".join(names) + " | fit F1 | held-out F1 (sd) |",
        "|" + "---:|" * (len(names) + 2),
    ]
    for point in range(fit.shape[0]):
        values = " | ".join(f"{result.grid[name][point]:g}" for name in names)
        spread = held[point].std(ddof=1) if held.shape[1] > 1 else 0.0
        lines.append(
            f"| {values} | {fit[point].mean():.2f} | {held[point].mean():.2f} ({spread:.2f}) |"
        )
    return "\n".join(lines)


def markdown_cross_validation(cv, thresholds, class_names, positives, objective, average) -> str:
    """A :class:`jaxthresh.CVResult` as a line of held-out scores (mean, standard
    deviation and each fold's, in percent), then a Markdown table of how much each class's
    threshold moves across the folds (:meth:`jaxthresh.CVResult.threshold_spread`) beside
    its threshold on all rows and its positive rows.

    Args:
      cv: the cross-validation.
      thresholds: float[classes], the thresholds fitted on all the rows.
      class_names: one name per class.
      positives: each class's positive rows.
      objective, average: the score (:func:`score_name`).
    """
    held = np.asarray(cv.heldout_score, np.float64)
    spread = cv.threshold_spread()
    shown = [formatted_score(objective, value) for value in (held.mean(), *held)]
    unit = "" if shown[0].endswith("%") else " "
    sd = held.std(ddof=1) * (100 if unit == "" else 1)
    lines = [
        f"held-out {score_name(objective, average)} over {len(held)} folds: {shown[0]} (sd "
        f"{sd:.{2 if unit == '' else 3}f}; folds {', '.join(v.rstrip('%') for v in shown[1:])})",
        "",
        "| class | threshold | fold mean | fold sd | fold min | fold max | positives |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    columns = zip(
        class_names,
        np.asarray(thresholds),
        *(np.asarray(field) for field in spread),
        np.asarray(positives),
        strict=True,
    )
    for name, threshold, mean, std, low, high, count in columns:
        lines.append(
            f"| {name} | {threshold:.4g} | {mean:.4g} | {std:.3g} | {low:.4g} | {high:.4g} "
            f"| {count:g} |"
        )
    return "\n".join(lines)


def bootstrap_summary(result, level: float = 0.95) -> dict:
    """What ``thresholds.json`` records of a :class:`jaxthresh.BootstrapResult` (its
    ``summary.bootstrap``): the resamples, the level, each class's threshold interval
    ``[low, high]``, the interval of the out-of-bag score and the bagged thresholds."""
    low, high = (np.asarray(v, np.float64) for v in result.interval(level))
    oob = [float(v) for v in result.score_interval(level)]
    return {
        "n_resamples": int(np.shape(result.thresholds)[0]),
        "level": level,
        "threshold_interval": [[float(a), float(b)] for a, b in zip(low, high, strict=True)],
        "oob_score_interval": oob,
        "bagged_thresholds": [float(v) for v in np.asarray(result.bagged())],
    }


def markdown_bootstrap(summary: dict, thresholds, class_names, positives, objective, average):
    """A bootstrap's :func:`bootstrap_summary` as a line (the out-of-bag score's interval)
    and a Markdown table of each class's threshold, its interval and the interval's width,
    beside its positive rows (few positives: a wide interval)."""
    low, high = (formatted_score(objective, v) for v in summary["oob_score_interval"])
    percent = round(100 * summary["level"])
    lines = [
        f"out-of-bag {score_name(objective, average)} over {summary['n_resamples']} bootstrap "
        f"resamples: {percent} % interval [{low}, {high}]",
        "",
        f"| class | threshold | {percent} % low | {percent} % high | width | positives |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    columns = zip(
        class_names,
        np.asarray(thresholds),
        summary["threshold_interval"],
        np.asarray(positives),
        strict=True,
    )
    for name, threshold, (low, high), count in columns:
        lines.append(
            f"| {name} | {threshold:.4g} | {low:.4g} | {high:.4g} | {high - low:.3g} | {count:g} |"
        )
    return "\n".join(lines)
