"""jaxthresh: fit per-class decision thresholds, apply them, and evaluate them.

Usage:
  jaxthresh fit --scores=S --labels=L [--method=sgl] [--average=micro] --output=thresholds.json
  jaxthresh apply --scores=S --thresholds=thresholds.json --output=predictions.npy|.csv
  jaxthresh evaluate --scores=S --labels=L --thresholds=thresholds.json [--format=markdown]

Inputs are .npy, .npz (arrays named by --scores_key and --labels_key) or .csv (a header row
of class names, then one row per clip). Methods: default, dicho, numerical, sgl, exact,
auto.
Every bad input is one line on stderr and exit status 2; output files are written whole or
not at all.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
from absl import flags

import jaxthresh
from jaxthresh.cli import method_flags, plots, runner
from jaxthresh.cli import thresholds_file as schema
from jaxthresh.cli.files import check_writable, load_matrix, save_matrix
from jaxthresh.cli.report import classification_report, markdown_report
from jaxthresh.core import validation
from jaxthresh.methods import configure

COMMANDS = ("fit", "apply", "evaluate")

_SCORES = flags.DEFINE_string("scores", None, "Scores file: .npy, .npz or .csv.")
_LABELS = flags.DEFINE_string("labels", None, "Labels file (0/1): .npy, .npz or .csv.")
_SCORES_KEY = flags.DEFINE_string("scores_key", "scores", "Array name of the scores in .npz.")
_LABELS_KEY = flags.DEFINE_string("labels_key", "labels", "Array name of the labels in .npz.")
_CLASS_NAMES = flags.DEFINE_string(
    "class_names", None, "Text file, one class name per line (default: the CSV header)."
)
_METHOD = flags.DEFINE_string("method", "sgl", f"fit: one of {', '.join(jaxthresh.METHODS)}.")
method_flags.define()
_THRESHOLDS = flags.DEFINE_string("thresholds", None, "apply, evaluate: thresholds.json.")
_OUTPUT = flags.DEFINE_string(
    "output", None, "fit: thresholds.json to write; apply: predictions .npy or .csv."
)
_FORMAT = flags.DEFINE_enum("format", "markdown", ["markdown", "json"], "evaluate: output.")
_PLOT_DIR = flags.DEFINE_string(
    "plot_dir",
    None,
    "fit: write PNG plots here (learning curve, thresholds against class frequency, F1 "
    "against threshold); needs the plot extra: pip install 'jaxthresh[plot]'.",
)


def _required(flag, command: str) -> str:
    if not flag.value:
        raise ValueError(f"{flag.name}: --{flag.name} is required for {command}")
    return flag.value


def _load(flag, command: str, key: str | None = None):
    return load_matrix(_required(flag, command), name=flag.name, key=key)


def _class_names(matrix, n_classes: int) -> list[str] | None:
    """--class_names, else the names the file carried; None if there are none."""
    if _CLASS_NAMES.value:
        try:
            with open(_CLASS_NAMES.value, encoding="utf-8-sig") as stream:
                names = [line.strip() for line in stream if line.strip()]
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"class_names: cannot read {_CLASS_NAMES.value}: {error}") from None
    else:
        names = matrix.class_names
    if names is not None and len(names) != n_classes:
        raise ValueError(f"class_names: {len(names)} names for {n_classes} classes")
    return names


def _check_same_classes(names, labels) -> None:
    """Refuses labels whose own class names differ from the scores' (or the file's)."""
    if names is None or labels.class_names is None:
        return
    for column, (ours, theirs) in enumerate(zip(names, labels.class_names, strict=False)):
        if ours != theirs:
            raise ValueError(
                f"labels: class {column} is {theirs!r} in the labels but {ours!r} in the scores"
            )


def _checked_plot_dir() -> str | None:
    """--plot_dir, created and checked before any work; None if not given."""
    folder = _PLOT_DIR.value
    if not folder:
        return None
    plots.require_matplotlib()
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise ValueError(f"plot_dir: cannot create {folder}: {error}") from None
    if not os.access(folder, os.W_OK):
        raise ValueError(f"plot_dir: folder {folder} is not writable")
    return folder


def _fit() -> None:
    output = _required(_OUTPUT, "fit")
    check_writable(output)
    plot_dir = _checked_plot_dir()
    method = _METHOD.value
    jaxthresh.METHODS.get(method) or configure(method, 1)  # an unknown name is an error
    hyperparameters = method_flags.chosen_hyperparameters(method, method_flags.given(), strict=True)
    scores = _load(_SCORES, "fit", _SCORES_KEY.value)
    labels = _load(_LABELS, "fit", _LABELS_KEY.value)
    rows = validation.as_rows(scores.values, labels.values)
    n_rows, n_classes = rows.scores.shape
    names = _class_names(scores, n_classes)
    _check_same_classes(names, labels)
    names = names or schema.default_class_names(n_classes)
    config = configure(method, n_classes, n_rows, **hyperparameters)
    result = jaxthresh.fit(method, rows.scores, rows.labels, progress=True, **hyperparameters)
    thresholds = np.asarray(result.thresholds)
    fit_score = jaxthresh.f1_score(
        rows.labels,
        jaxthresh.apply_thresholds(rows.scores, thresholds),
        average=config.average,
        beta=float(config.beta),
    )
    summary = config.summary(result)
    record = schema.ThresholdsRecord(
        method=method,
        hyperparameters=config.record(),
        average=config.average,
        beta=float(config.beta),
        class_names=names,
        thresholds=thresholds,
        slopes=np.asarray(result.slopes) if hasattr(result, "slopes") else None,
        fit_f1=fit_score,
        n_rows=n_rows,
        summary=summary,
    )
    if plot_dir:  # before the thresholds file: a failure leaves no output behind
        _plot_fit(plot_dir, method, result, np.asarray(rows.scores), np.asarray(rows.labels), names)
    schema.write_thresholds(output, record)
    if method == "auto":
        print(
            f"auto chose {summary['winner']} (inner cross-validated {config.average}-F1 "
            f"{100 * summary['inner_cv_score']:.2f}%)"
        )
    print(
        f"{method}: {config.average}-F1 {100 * fit_score:.2f}% on {n_rows} rows; "
        f"{n_classes} thresholds written to {output}"
    )


def _plot_fit(folder, method, result, scores, labels, names) -> None:
    thresholds = np.asarray(result.thresholds)
    plots.thresholds_by_frequency({method: thresholds}, labels, folder, "thresholds.png")
    plots.f1_against_threshold(
        scores, labels, thresholds, folder, "f1_against_threshold.png", class_names=names
    )
    if hasattr(result, "history"):
        plots.learning_curves({method: result.history}, folder, "learning_curve.png")


def _scores_and_thresholds(command: str):
    scores = _load(_SCORES, command, _SCORES_KEY.value)
    values = np.asarray(validation.as_scores(scores.values))
    record = schema.read_thresholds(_required(_THRESHOLDS, command))
    schema.check_classes(record, values.shape[1], _class_names(scores, values.shape[1]))
    return scores._replace(values=values), record


def _apply() -> None:
    output = _required(_OUTPUT, "apply")
    check_writable(output)
    scores, record = _scores_and_thresholds("apply")
    predictions = np.asarray(jaxthresh.apply_thresholds(scores.values, record.thresholds))
    save_matrix(output, predictions.astype(np.uint8), record.class_names)
    print(f"{int(predictions.sum())} positive predictions in {len(predictions)} rows -> {output}")


def _evaluate() -> None:
    scores, record = _scores_and_thresholds("evaluate")
    labels = _load(_LABELS, "evaluate", _LABELS_KEY.value)
    _check_same_classes(record.class_names, labels)
    rows = classification_report(
        labels.values, scores.values, record.thresholds, record.class_names
    )
    if _FORMAT.value == "json":
        print(json.dumps([row._asdict() for row in rows], indent=2))
    else:
        print(markdown_report(rows))


def _main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        given = argv[1] if len(argv) > 1 else "nothing"
        raise ValueError(f"command: expected one of {', '.join(COMMANDS)}, got {given}")
    {"fit": _fit, "apply": _apply, "evaluate": _evaluate}[argv[1]]()


def main() -> None:
    """Console-script entry point."""
    sys.modules["__main__"].__doc__ = __doc__
    # --help lists the key flags of the main module: make this module's flags those.
    for flag in flags.FLAGS.get_key_flags_for_module(__name__):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    runner.run(_main, positional=1)


if __name__ == "__main__":
    main()
