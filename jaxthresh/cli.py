"""jaxthresh: fit per-class decision thresholds, apply them, and evaluate them.

Usage:
  jaxthresh fit --scores=S --labels=L [--method=sgl] [--average=micro] --output=thresholds.json
  jaxthresh apply --scores=S --thresholds=thresholds.json --output=predictions.npy|.csv
  jaxthresh evaluate --scores=S --labels=L --thresholds=thresholds.json [--format=markdown]

Inputs are .npy, .npz (arrays named by --scores_key and --labels_key) or .csv (a header row
of class names, then one row per clip). Methods: default, dicho, numerical, sgl, exact.
Every bad input is one line on stderr and exit status 2; output files are written whole or
not at all.
"""

from __future__ import annotations

import json
import sys

import jax
import numpy as np
from absl import flags

import jaxthresh
from jaxthresh import _cli, plots, schema
from jaxthresh.io import check_writable, load_matrix, save_matrix
from jaxthresh.methods import hyperparameter_names
from jaxthresh.report import classification_report, markdown_report

COMMANDS = ("fit", "apply", "evaluate")

_SCORES = flags.DEFINE_string("scores", None, "Scores file: .npy, .npz or .csv.")
_LABELS = flags.DEFINE_string("labels", None, "Labels file (0/1): .npy, .npz or .csv.")
_SCORES_KEY = flags.DEFINE_string("scores_key", "scores", "Array name of the scores in .npz.")
_LABELS_KEY = flags.DEFINE_string("labels_key", "labels", "Array name of the labels in .npz.")
_CLASS_NAMES = flags.DEFINE_string(
    "class_names", None, "Text file, one class name per line (default: the CSV header)."
)
_METHOD = flags.DEFINE_string("method", "sgl", f"fit: one of {', '.join(jaxthresh.METHODS)}.")
_AVERAGE = flags.DEFINE_string("average", "micro", "fit: F1 to maximize, micro or macro.")
_INIT = flags.DEFINE_float("init", 0.5, "fit (sgl, numerical): initial threshold.")
_SLOPE = flags.DEFINE_float("slope", 50.0, "fit (sgl): initial sigmoid slope.")
_LEARNING_RATE = flags.DEFINE_float(
    "learning_rate", 1e-2, "fit (sgl, numerical): Adam learning rate."
)
_EPOCHS = flags.DEFINE_integer("epochs", 100, "fit (sgl, numerical): full-batch epochs.")
_SEED = flags.DEFINE_integer("seed", 0, "fit (dicho): seed of the PRNG key.")
_THRESHOLD = flags.DEFINE_float(
    "threshold", None, "fit (default): the global threshold (default: the best one)."
)
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
            with open(_CLASS_NAMES.value) as stream:
                names = [line.strip() for line in stream if line.strip()]
        except OSError as error:
            raise ValueError(f"class_names: cannot read {_CLASS_NAMES.value}: {error}") from None
    else:
        names = matrix.class_names
    if names is not None and len(names) != n_classes:
        raise ValueError(f"class_names: {len(names)} names for {n_classes} classes")
    return names


def _hyperparameters(method: str) -> dict:
    given = {
        "init": _INIT.value,
        "slope": _SLOPE.value,
        "learning_rate": _LEARNING_RATE.value,
        "epochs": _EPOCHS.value,
        "threshold": _THRESHOLD.value,
        "key": jax.random.key(_SEED.value),
        "average": _AVERAGE.value,
    }
    names = hyperparameter_names(method)
    return {k: v for k, v in given.items() if k in names and v is not None}


def _fit() -> None:
    output = _required(_OUTPUT, "fit")
    check_writable(output)
    if _PLOT_DIR.value:
        plots.require_matplotlib()
    scores = _load(_SCORES, "fit", _SCORES_KEY.value)
    labels = _load(_LABELS, "fit", _LABELS_KEY.value)
    method = _METHOD.value
    jaxthresh.get_method(method)
    hyperparameters = _hyperparameters(method)
    result = jaxthresh.fit(method, scores.values, labels.values, **hyperparameters)
    thresholds = np.asarray(result.thresholds)
    fit_f1 = jaxthresh.f1_score(
        labels.values, jaxthresh.apply_thresholds(scores.values, thresholds), average=_AVERAGE.value
    )
    n_rows, n_classes = scores.values.shape
    names = _class_names(scores, n_classes) or schema.default_class_names(n_classes)
    recorded = {k: v for k, v in hyperparameters.items() if k not in ("key", "average")}
    if method == "dicho":
        recorded["seed"] = _SEED.value
    if method == "auto":
        recorded["winner"] = jaxthresh.CANDIDATES[int(result.winner)]
        recorded["inner_cv_f1"] = round(float(result.estimates[int(result.winner)]), 6)
    record = schema.ThresholdsRecord(
        method=method,
        hyperparameters=recorded,
        average=_AVERAGE.value,
        beta=1.0,
        class_names=names,
        thresholds=thresholds,
        slopes=np.asarray(result.slopes) if hasattr(result, "slopes") else None,
        fit_f1=fit_f1,
        n_rows=n_rows,
    )
    schema.write_thresholds(output, record)
    if _PLOT_DIR.value:
        _plot_fit(method, result, scores.values, labels.values, names)
    if method == "auto":
        print(
            f"auto chose {recorded['winner']} (inner cross-validated {_AVERAGE.value}-F1 "
            f"{100 * recorded['inner_cv_f1']:.2f}%)"
        )
    print(
        f"{method}: {_AVERAGE.value}-F1 {100 * fit_f1:.2f}% on {n_rows} rows; "
        f"{n_classes} thresholds written to {output}"
    )


def _plot_fit(method, result, scores, labels, names) -> None:
    folder = _PLOT_DIR.value
    thresholds = np.asarray(result.thresholds)
    plots.thresholds_by_frequency({method: thresholds}, labels, folder, "thresholds.png")
    plots.f1_against_threshold(
        scores, labels, thresholds, folder, "f1_against_threshold.png", class_names=names
    )
    if hasattr(result, "history"):
        plots.learning_curves({method: result.history}, folder, "learning_curve.png")


def _scores_and_thresholds(command: str):
    scores = _load(_SCORES, command, _SCORES_KEY.value)
    record = schema.read_thresholds(_required(_THRESHOLDS, command))
    n_classes = np.shape(scores.values)[-1] if np.ndim(scores.values) == 2 else -1
    schema.check_classes(record, n_classes, _class_names(scores, n_classes))
    return scores, record


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
    for flag in flags.FLAGS.get_flags_for_module(__name__):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    _cli.run(_main, positional=1)


if __name__ == "__main__":
    main()
