"""jaxthresh: fit per-class decision thresholds, apply them, and evaluate them.

Usage:
  jaxthresh fit --scores=S --labels=L [--method=sgl] [--objective=f1] [--average=micro]
      [--cv_folds=K] --output=thresholds.json
  jaxthresh fit ... --objective=fbeta --beta=2 | --objective=utility --utility=1,-0.2,-1,0
  jaxthresh fit --scores=S --labels=L --method=constrained --min_precision=0.8 --output=...
  jaxthresh fit ... --bootstrap=200: also each class's 95 % threshold interval
  jaxthresh fit --scores=S_i --labels=L_i [--bins=1024] --output=thresholds.json
      --coordinator_address=HOST:PORT --num_processes=N --process_id=i: on N hosts
      (or --distributed: the cluster's environment), each with its own files
  jaxthresh apply --scores=S --thresholds=thresholds.json --output=predictions.npy|.csv
      [--min_labels=1] [--max_labels=K]
  jaxthresh evaluate --scores=S --labels=L --thresholds=thresholds.json [--format=markdown]
      [--curves=curves.csv] [--bootstrap=200] [--min_labels=1] [--max_labels=K]
  jaxthresh COMMAND --help: the flags of one command

Inputs are .npy, .npz (arrays named by --scores_key and --labels_key) or .csv (a header row
of class names, then one row per clip; --no_header for CSV files without one). A CSV file
whose header starts with an empty cell has row names in its first column (as pandas'
DataFrame.to_csv writes its index): where the scores and labels both have row names, rows
are matched by name, in the order of the scores; otherwise they pair by position. Classes
pair by position; their names (generated ones, class_0, class_1, ..., name nothing) must
agree where both files have them. Methods:
default, dicho, numerical, sgl, exact, auto, constrained (the best objective at a minimum
precision or recall); each maximizes --objective (f1, jaccard, accuracy, balanced_accuracy,
mcc, precision, recall, fbeta with --beta, utility with --utility), averaged as --average.

Every bad input is one line on stderr and exit status 2, before any work where it can be
known then: a flag that is not one of the command's, an output file that is one of the
inputs. Output files are written whole or not at all. Warnings (a class without positives,
an init outside the scores...) are one line each on stderr; the exit status stays 0.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import textwrap
import warnings

import jax
import numpy as np
from absl import flags
from jax.experimental import multihost_utils

import jaxthresh
from jaxthresh import resampling, sharding
from jaxthresh.cli import blocks, curves_file, method_flags, plots, report, runner
from jaxthresh.cli import thresholds_file as schema
from jaxthresh.cli.files import check_input_file, check_writable, refuse_overwriting_inputs
from jaxthresh.cli.matrices import load_matrix, match_rows, write_matrix
from jaxthresh.cli.report import (
    formatted_score,
    markdown_cross_validation,
    markdown_report,
    report_rows,
    score_name,
)
from jaxthresh.core import diagnostics, ranking, validation
from jaxthresh.core.metrics import Counts, objective_of_totals
from jaxthresh.methods import configure
from jaxthresh.sharding import fail_together

#: What each command does, for its --help.
COMMANDS = {
    "fit": "Fits per-class thresholds to scores and labels; writes them to a thresholds file "
    "(--cv_folds: also cross-validates the method and reports how far thresholds move; "
    "--bootstrap: each class's threshold interval over bootstrap resamples).",
    "apply": "Applies the thresholds of a thresholds file to scores; writes 0/1 predictions.",
    "evaluate": "Per-class precision, recall, F1, average precision and ROC AUC of a "
    "thresholds file on scores and labels, and the file's objective (--curves: also at every "
    "threshold, as CSV; --bootstrap: 95 % intervals of micro-F1, macro-F1 and mAP).",
}
_USAGE = {
    "fit": "jaxthresh fit --scores=S --labels=L [--method=sgl] [hyperparameter flags] "
    "[--cv_folds=K] [--bootstrap=N] --output=thresholds.json",
    "apply": "jaxthresh apply --scores=S --thresholds=thresholds.json "
    "--output=predictions.npy|.csv [--min_labels=1] [--max_labels=K]",
    "evaluate": "jaxthresh evaluate --scores=S --labels=L --thresholds=thresholds.json "
    "[--format=markdown|json] [--curves=curves.csv [--curve_bins=N]] [--bootstrap=N] "
    "[--min_labels=1] [--max_labels=K]",
}

_SCORES = flags.DEFINE_string("scores", None, "Scores file: .npy, .npz or .csv.")
_LABELS = flags.DEFINE_string("labels", None, "Labels file (0/1): .npy, .npz or .csv.")
_SCORES_KEY = flags.DEFINE_string("scores_key", "scores", "Array name of the scores in .npz.")
_LABELS_KEY = flags.DEFINE_string("labels_key", "labels", "Array name of the labels in .npz.")
_CLASS_NAMES = flags.DEFINE_string(
    "class_names", None, "Text file, one class name per line (default: the CSV header)."
)
_NO_HEADER = flags.DEFINE_bool(
    "no_header",
    False,
    "CSV inputs have no header row: every row is data, and classes are named class_0, "
    "class_1, ... (or by --class_names). Without it, a CSV file whose first row is numbers "
    "is refused.",
)
_METHOD = flags.DEFINE_string(
    "method", "sgl", f"The fitting method: one of {', '.join(jaxthresh.METHODS)}."
)
method_flags.define()
_THRESHOLDS = flags.DEFINE_string("thresholds", None, "The thresholds file that fit wrote.")
_OUTPUT = flags.DEFINE_string(
    "output",
    None,
    "fit: the thresholds file to write (JSON); apply: the predictions, .npy or .csv.",
)
_FORMAT = flags.DEFINE_enum("format", "markdown", ["markdown", "json"], "The report's format.")
_PLOT_DIR = flags.DEFINE_string(
    "plot_dir",
    None,
    "Write PNG plots here (learning curve, thresholds against class frequency, F1 "
    "against threshold, precision-recall curves with the chosen thresholds marked); needs "
    "the plot extra: pip install 'jaxthresh[plot]'.",
)
_CV_FOLDS = flags.DEFINE_integer(
    "cv_folds",
    None,
    "Also cross-validate the method with this many folds (at least 2) of the fitting rows: "
    "prints the held-out objective of each fold and, per class, how much the threshold moves "
    "across the folds (mean, standard deviation, lowest and highest).",
)
_CURVES = flags.DEFINE_string(
    "curves",
    None,
    "Also write per class precision, recall and the thresholds file's objective at every "
    "distinct threshold to this CSV file (columns class, threshold, precision, recall, score, "
    "true_positives, predicted, support).",
)
_CURVE_BINS = flags.DEFINE_integer(
    "curve_bins",
    None,
    "Points of --curves: 0 for every distinct score, N for the cuts between N equal "
    "histogram cells per class; default every distinct score up to "
    f"{curves_file.EXACT_LIMIT:,} scores (rows x classes), else {curves_file.DEFAULT_BINS} cells.",
)
_MIN_LABELS = flags.DEFINE_integer(
    "min_labels", 0, "At least this many positives per row (adding the largest score - threshold)."
)
_MAX_LABELS = flags.DEFINE_integer(
    "max_labels",
    None,
    "At most this many positives per row (keeping the largest score - threshold).",
)

_BOOTSTRAP = flags.DEFINE_integer(
    "bootstrap",
    None,
    "Resamples of a bootstrap (at least 2; 200 is plenty): fit also fits the method on that "
    "many resamples of the rows and reports each class's 95 % threshold interval (and writes "
    "it to the thresholds file); evaluate reports 95 % intervals of micro-F1, macro-F1 and "
    "mAP over resamples of the evaluated rows.",
)

_COORDINATOR_ADDRESS = flags.DEFINE_string(
    "coordinator_address",
    None,
    "Fit on several processes (hosts), each reading its own --scores and --labels files: "
    "host:port of the coordinator, which process 0 starts (the same on every process; with "
    "--num_processes and --process_id). The rows stay on their processes (with --bins, "
    "each counts its rows into histograms, which are merged); process 0 alone writes "
    "--output and prints the report.",
)
_NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes",
    None,
    "Fit on several processes: how many (with --coordinator_address and --process_id).",
)
_PROCESS_ID = flags.DEFINE_integer(
    "process_id",
    None,
    "Fit on several processes: this one's number, from 0 (the one that writes the output) "
    "to one less than --num_processes (with --coordinator_address and --num_processes).",
)
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed",
    False,
    "Fit on several processes found in the cluster's environment (jax.distributed."
    "initialize() without arguments: SLURM, Open MPI, Kubernetes...), in place of "
    "--coordinator_address, --num_processes and --process_id.",
)
_PROCESS_FLAGS = ("coordinator_address", "num_processes", "process_id", "distributed")

#: The plots that fit writes into --plot_dir.
PLOTS = (
    "thresholds.png",
    "f1_against_threshold.png",
    "precision_recall.png",
    "learning_curve.png",
)
#: The plot of fit --bootstrap in --plot_dir.
BOOTSTRAP_PLOT = "bootstrap_thresholds.png"
#: Scores (rows x classes) up to which evaluate's average precision and ROC AUC are exact
#: (one sort of every class, in memory); above, on DEFAULT_BINS histogram cells per class.
EXACT_RANKING_SCORES = 1 << 26
#: Scores (rows x classes) from which a fit on the rows is warned about its memory: the
#: rows path holds several copies of the scores (measured on 200,000 x 1,000: 4 to 18
#: times their float32 bytes; see BUILD_NOTES), the histogram path (--bins) about two.
LARGE_FIT_SCORES = 1 << 26
_INPUT_FLAGS = ("scores", "scores_key", "class_names", "no_header")
#: The flags of each command (fit also takes every hyperparameter flag).
FLAGS_OF = {
    "fit": (
        *_INPUT_FLAGS,
        "labels",
        "labels_key",
        "method",
        "output",
        "plot_dir",
        "cv_folds",
        "bootstrap",
        *_PROCESS_FLAGS,
    ),
    "apply": (*_INPUT_FLAGS, "thresholds", "output", "min_labels", "max_labels"),
    "evaluate": (
        *_INPUT_FLAGS,
        "labels",
        "labels_key",
        "thresholds",
        "format",
        "curves",
        "curve_bins",
        "min_labels",
        "max_labels",
        "bootstrap",
    ),
}


def flags_of(command: str) -> tuple[str, ...]:
    """Every flag ``command`` takes (for fit: with the method hyperparameter flags)."""
    if command == "fit":
        return (*FLAGS_OF["fit"], *method_flags.names())
    return FLAGS_OF[command]


def tool_flags() -> tuple[str, ...]:
    """Every flag of the tool, in the order of the help (absl's own flags aside)."""
    names = dict.fromkeys(name for command in COMMANDS for name in FLAGS_OF[command])
    return (*names, *method_flags.names())


def _refuse_foreign_flags(command: str) -> None:
    """A flag given that ``command`` does not take is an error naming the command."""
    taken = set(flags_of(command))
    for name in tool_flags():
        if flags.FLAGS[name].present and name not in taken:
            takers = [c for c in COMMANDS if name in flags_of(c)]
            raise ValueError(
                f"{name}: --{name} is not a flag of {command} (only of "
                f"{' and '.join(takers)}); see jaxthresh {command} --help"
            )


def _describe_flag(name: str) -> str:
    flag = flags.FLAGS[name]
    label = f"--[no]{name}" if flag.boolean else f"--{name}"
    text = flag.help
    if flag.default is not None:
        text += f" (default: {flag.default_as_str})"
    return "\n".join(
        textwrap.wrap(f"{label}: {text}", width=88, initial_indent="  ", subsequent_indent="    ")
    )


def help_text(argv: list[str]) -> str:
    """The help of ``--help``: of the command in ``argv`` if there is one, else of the
    tool (each flag once, under the commands that take it)."""
    given = [argument for argument in argv[1:] if not argument.startswith("-")]
    command = given[0] if given and given[0] in COMMANDS else None
    hyperparameters = list(method_flags.names())
    if command is not None:
        sections = [
            f"jaxthresh {command}: {COMMANDS[command]}",
            f"Usage: {_USAGE[command]}",
            "Flags:\n" + "\n".join(_describe_flag(name) for name in FLAGS_OF[command]),
        ]
        if command == "fit":
            sections.append(
                "Method hyperparameters (a flag that the chosen method does not take is an "
                "error):\n" + "\n".join(_describe_flag(name) for name in hyperparameters)
            )
        return "\n\n".join(sections)
    groups: dict[tuple[bool, tuple[str, ...]], list[str]] = {}
    for name in tool_flags():
        takers = tuple(c for c in COMMANDS if name in flags_of(c))
        groups.setdefault((name in hyperparameters, takers), []).append(name)
    sections = [__doc__.strip()]
    for (hyperparameter, commands), names in sorted(groups.items(), key=lambda g: g[0][0]):
        title = f"Flags of {' and '.join(commands)}"
        if hyperparameter:
            title = f"Method hyperparameters (flags of {' and '.join(commands)})"
        sections.append(f"{title}:\n" + "\n".join(_describe_flag(name) for name in names))
    sections.append("Run jaxthresh COMMAND --help for one command; --helpfull for absl's flags.")
    return "\n\n".join(sections)


def _required(flag, command: str) -> str:
    if not flag.value:
        raise ValueError(f"{flag.name}: --{flag.name} is required for {command}")
    return flag.value


def _load(flag, command: str, key: str | None = None):
    return load_matrix(
        _required(flag, command), name=flag.name, key=key, header=not _NO_HEADER.value
    )


def _inputs() -> list[tuple[str, str | None]]:
    return [(flag.name, flag.value) for flag in (_SCORES, _LABELS, _THRESHOLDS, _CLASS_NAMES)]


def _class_names(matrix, n_classes: int) -> list[str] | None:
    """--class_names, else the names the file carried; None if there are none or they are
    generated ones (:func:`schema.named_classes`)."""
    if _CLASS_NAMES.value:
        path = check_input_file(_CLASS_NAMES.value, "class_names")
        try:
            with open(path, encoding="utf-8-sig") as stream:
                names = [line.strip() for line in stream if line.strip()]
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"class_names: cannot read {path}: {error}") from None
    else:
        names = matrix.class_names
    if names is not None and len(names) != n_classes:
        raise ValueError(f"class_names: {len(names)} names for {n_classes} classes")
    return schema.named_classes(names)


def _check_same_classes(names, labels) -> None:
    """Refuses labels whose own class names differ from the scores' (or the file's)."""
    labels_names = schema.named_classes(labels.class_names)
    if names is None or labels_names is None:
        return
    for column, (ours, theirs) in enumerate(zip(names, labels_names, strict=False)):
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


def _warn_rows_memory(method: str, n_rows: int, n_classes: int) -> None:
    """One warning line: a fit on the rows of this many scores takes several times their
    memory, and which methods can fit on histograms instead."""
    with_bins = [name for name, method in jaxthresh.METHODS.items() if method.has_histogram_path()]
    gigabytes = 4 * n_rows * n_classes / 1e9
    diagnostics.warn(
        f"memory: {method} on the rows of {n_rows} x {n_classes} scores ({gigabytes:.1f} GB "
        "as float32) holds several copies of them (4 to 18 times on 200,000 x 1,000); "
        f"--bins=1024 ({', '.join(with_bins)}) fits on per-class histograms after one pass "
        "over the rows (about 2 times)"
    )


def _fitting_rows():
    """fit's checked inputs: ``(scores, labels, class names)``: the scores' values as
    loaded, the labels' values matched to their rows, and the names of --class_names, else
    of the scores' file, else of the labels' file (None if none names them)."""
    scores = _load(_SCORES, "fit", _SCORES_KEY.value)
    labels = match_rows(scores, _load(_LABELS, "fit", _LABELS_KEY.value))
    values = blocks.check_scores(scores.values)
    blocks.check_labels(labels.values, values.shape)
    names = _class_names(scores, values.shape[1])
    _check_same_classes(names, labels)
    return values, labels.values, names or _class_names(labels, values.shape[1])


def _fit() -> None:
    if jax.distributed.is_initialized() and jax.process_count() > 1:
        _fit_on_processes()
        return
    output = _required(_OUTPUT, "fit")
    outputs = [("output", output)]
    n_resamples = _checked_bootstrap()
    if _PLOT_DIR.value:
        names = PLOTS if n_resamples is None else (*PLOTS, BOOTSTRAP_PLOT)
        outputs += [("plot_dir", os.path.join(_PLOT_DIR.value, name)) for name in names]
    refuse_overwriting_inputs(outputs, _inputs())
    check_writable(output)
    plot_dir = _checked_plot_dir()
    cv_folds = None
    if _CV_FOLDS.value is not None:
        cv_folds = validation.positive_int(_CV_FOLDS.value, "cv_folds", minimum=2)
    method = _METHOD.value
    jaxthresh.METHODS.get(method) or configure(method, 1)  # an unknown name is an error
    hyperparameters = method_flags.chosen_hyperparameters(method, method_flags.given(), strict=True)
    values, labels, names = _fitting_rows()
    n_rows, n_classes = values.shape
    names = names or schema.default_class_names(n_classes)
    config = configure(method, n_classes, n_rows, **hyperparameters)
    if cv_folds is not None:
        validation.n_folds_for(cv_folds, n_rows, "cv_folds")
    bins = config.bins
    if bins is None and n_rows * n_classes >= LARGE_FIT_SCORES:
        _warn_rows_memory(method, n_rows, n_classes)
    if bins is None:
        # The values as loaded (float64 too): the library warns where float32 loses them.
        result = jaxthresh.fit(method, values, labels, progress=True, **hyperparameters)
    else:
        # One pass over the rows in blocks (jaxthresh.histogram_pass), then the fit on the
        # cells: no copy of the scores is made (the fit of fit(..., bins=) in the library).
        histogram = jaxthresh.histogram_pass(values, labels, bins=bins)
        cells = {name: value for name, value in hyperparameters.items() if name != "bins"}
        result = jaxthresh.fit_histogram(method, histogram, progress=True, **cells)
    bootstrapped = None
    if n_resamples is not None:
        resamples = jaxthresh.bootstrap(
            values,
            labels,
            method,
            n_resamples=n_resamples,
            progress=True,
            **hyperparameters,
        )
        bootstrapped = report.bootstrap_summary(resamples)
    record = schema.fit_record(
        method,
        values,
        labels,
        result,
        class_names=names,
        summary=None if bootstrapped is None else {"bootstrap": bootstrapped},
        **hyperparameters,
    )
    fit_score = record.score
    if plot_dir:  # before the thresholds file: a failure leaves no output behind
        _plot_fit(plot_dir, config, result, values, labels, names)
        if bootstrapped is not None:
            plots.bootstrap_thresholds(
                resamples.thresholds,
                record.thresholds,
                labels,
                plot_dir,
                BOOTSTRAP_PLOT,
                class_names=names,
            )
    schema.write_thresholds(output, record, "output")
    score = score_name(config.objective, config.average)
    described = config.describe(record.summary, n_classes, score)
    if described is not None:
        print(described)
    print(
        f"{method}: {score} {formatted_score(config.objective, fit_score)} on {n_rows} rows; "
        f"{n_classes} thresholds written to {output}"
    )
    if bootstrapped is not None:
        positives = np.count_nonzero(np.asarray(labels) != 0, axis=0)
        table = report.markdown_bootstrap(
            bootstrapped, record.thresholds, names, positives, config.objective, config.average
        )
        print(f"\nbootstrap of {method} on the same rows:\n{table}")
    if cv_folds is not None:
        _cross_validate(method, hyperparameters, values, labels, cv_folds, config, record)


#: The flags of fit that need every row in one process (refused on several processes).
_ROWS_FLAGS = ("cv_folds", "bootstrap", "plot_dir")


def _fit_on_processes() -> None:
    """fit on every process of a multi-process run (--coordinator_address ... or
    --distributed), each with its own --scores and --labels: with --bins, one histogram
    pass over all processes' rows (``histogram_pass(..., all_processes=True)``) and the fit
    on it; else the fit of every process's rows (``shard_rows(..., process_local=True)``);
    the same result on every process, the objective from every process's exact counts;
    process 0 writes --output and prints the line of the fit, the others write nothing. A
    bad input on any process is an error on every process (theirs naming the process at
    fault)."""
    process, processes = jax.process_index(), jax.process_count()
    with fail_together():
        output = _required(_OUTPUT, "fit")
        _check_flags_of_processes()
        if process == 0:
            refuse_overwriting_inputs([("output", output)], _inputs())
            check_writable(output)
        method = _METHOD.value
        jaxthresh.METHODS.get(method) or configure(method, 1)  # an unknown name is an error
        given = method_flags.given()
        hyperparameters = method_flags.chosen_hyperparameters(method, given, strict=True)
        values, labels, names = _fitting_rows()
        config = configure(method, values.shape[1], len(values), **hyperparameters)
    names = _agreed_class_names(names, values.shape[1])
    if config.bins is None:
        rows = jaxthresh.shard_rows(values, labels, process_local=True)
    else:
        histogram = jaxthresh.histogram_pass(values, labels, bins=config.bins, all_processes=True)
    with fail_together():
        with warnings.catch_warnings():
            if process:  # the same fit, and its warnings, on every process: shown once
                warnings.simplefilter("ignore", diagnostics.FitWarning)
            if config.bins is None:
                result = jaxthresh.fit(method, *rows, **hyperparameters)
                del rows
            else:
                cells = {name: value for name, value in hyperparameters.items() if name != "bins"}
                result = jaxthresh.fit_histogram(method, histogram, progress=True, **cells)
        counted = np.stack(blocks.confusion_counts(labels, values, result.thresholds))
    # Entries per process < 2**31 (histogram_pass and shard_rows check it): int32 counts.
    sent = {"counts": counted.astype(np.int32), "rows": np.int32(len(values))}
    gathered = multihost_utils.process_allgather(sent)
    true_positives, predicted, positives = np.asarray(gathered["counts"], np.int64).sum(axis=0)
    n_rows = int(np.asarray(gathered["rows"], np.int64).sum())
    with fail_together():
        if process != 0:
            return
        score = objective_of_totals(
            Counts.of(true_positives, predicted, positives, n_rows),
            config.objective,
            config.average,
        )
        # The record of the fit; its score and rows are those of every process (the one
        # row given here only carries the classes: fit_record would count this process's).
        record = schema.fit_record(
            method, values[:1], labels[:1], result, class_names=names, **hyperparameters
        )._replace(score=score, n_rows=n_rows)
        schema.write_thresholds(output, record, "output")
        score_text = score_name(config.objective, config.average)
        described = config.describe(record.summary, len(names), score_text)
        if described is not None:
            print(described)
        print(
            f"{method}: {score_text} {formatted_score(config.objective, score)} on {n_rows} "
            f"rows of {processes} processes; {len(names)} thresholds written to {output}"
        )


def _check_flags_of_processes() -> None:
    """A fit on several processes takes no flag that needs every row in one process
    (:data:`_ROWS_FLAGS`)."""
    for name in _ROWS_FLAGS:
        if flags.FLAGS[name].present:
            raise ValueError(
                f"{name}: --{name} needs every row in one process; a fit on several "
                "processes does not take it"
            )


def _agreed_class_names(names: list[str] | None, n_classes: int) -> list[str]:
    """The class names of a fit on several processes: those of every process whose inputs
    name the classes (or that has --class_names), which must be the same; a
    ``ValueError`` on every process where they differ, where the classes differ in number,
    or where process 0 has none but another has (process 0 writes the file)."""
    digest = np.zeros(32, np.uint8)
    if names is not None:
        joined = "\n".join(names).encode("utf-8")
        digest = np.frombuffer(hashlib.sha256(joined).digest(), np.uint8)
    sent = {"classes": np.int32(n_classes), "named": np.int32(names is not None), "digest": digest}
    gathered = {k: np.asarray(v) for k, v in multihost_utils.process_allgather(sent).items()}
    for process, classes in enumerate(gathered["classes"]):
        if classes != gathered["classes"][0]:
            raise ValueError(
                f"scores: process {process} has {classes} classes, process 0 "
                f"{gathered['classes'][0]}; every process must give the same"
            )
    named = np.flatnonzero(gathered["named"])
    for process in named:
        if not np.array_equal(gathered["digest"][process], gathered["digest"][named[0]]):
            raise ValueError(
                f"class_names: the classes of process {process} are not those of process "
                f"{named[0]} (other names or another order); every process must fit the "
                "same classes"
            )
    if len(named) and not gathered["named"][0]:
        raise ValueError(
            f"class_names: the inputs of process {named[0]} name the classes but those of "
            "process 0, which writes the thresholds file, do not: give --class_names (or "
            "named inputs) to process 0"
        )
    return names or schema.default_class_names(n_classes)


def _join_processes() -> None:
    """--coordinator_address, --num_processes and --process_id (all three), or
    --distributed: joins the processes of a multi-process fit
    (:func:`jaxthresh.sharding.initialize`) before any other JAX call; else nothing."""
    explicit = [
        flag for flag in (_COORDINATOR_ADDRESS, _NUM_PROCESSES, _PROCESS_ID) if flag.present
    ]
    if _DISTRIBUTED.value:
        if explicit:
            raise ValueError(
                f"distributed: --distributed finds the processes in the cluster's environment; "
                f"give it or --coordinator_address, --num_processes and --process_id, not "
                f"both (--{explicit[0].name} given)"
            )
        arguments, flag = (), "distributed"
    elif not explicit:
        return
    else:
        for missing in (_COORDINATOR_ADDRESS, _NUM_PROCESSES, _PROCESS_ID):
            if not missing.present:
                raise ValueError(
                    f"{missing.name}: --coordinator_address, --num_processes and --process_id "
                    f"go together; --{missing.name} is missing"
                )
        processes = validation.positive_int(_NUM_PROCESSES.value, "num_processes")
        if not 0 <= _PROCESS_ID.value < processes:
            raise ValueError(
                f"process_id: must be from 0 to {processes - 1} (--num_processes={processes}), "
                f"got {_PROCESS_ID.value}"
            )
        address = _COORDINATOR_ADDRESS.value
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"coordinator_address: expected host:port, got {address!r}")
        if processes > 1:
            _check_flags_of_processes()
        arguments, flag = (address, processes, _PROCESS_ID.value), "coordinator_address"
    try:
        sharding.initialize(*arguments)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"{flag}: cannot join the other processes: {error}") from None


def _checked_bootstrap() -> int | None:
    """--bootstrap: None, or a number of resamples (at least 2)."""
    if _BOOTSTRAP.value is None:
        return None
    return validation.positive_int(_BOOTSTRAP.value, "bootstrap", minimum=2)


def _cross_validate(method, hyperparameters, scores, labels, n_folds, config, record) -> None:
    """Prints the cross-validation of the fit (:func:`markdown_cross_validation`)."""
    hyperparameters = dict(hyperparameters)
    kind = hyperparameters.pop("folds", "random")  # auto: its inner folds are dealt alike
    cv = jaxthresh.cross_validate(
        scores, labels, method, n_folds=n_folds, folds=kind, **hyperparameters
    )
    positives = np.count_nonzero(np.asarray(labels) != 0, axis=0)
    table = markdown_cross_validation(
        cv, record.thresholds, record.class_names, positives, config.objective, config.average
    )
    print(f"\n{n_folds}-fold cross-validation of {method} on the same rows:\n{table}")


def _plot_fit(folder, config, result, scores, labels, names) -> None:
    thresholds = np.asarray(result.thresholds)
    plots.thresholds_by_frequency({config.name: thresholds}, labels, folder, PLOTS[0])
    plots.f1_against_threshold(scores, labels, thresholds, folder, PLOTS[1], class_names=names)
    plots.precision_recall(scores, labels, thresholds, folder, PLOTS[2], class_names=names)
    history = config.history(result)
    if history is not None:
        plots.learning_curves({config.name: history}, folder, PLOTS[3])


def _scores_and_thresholds(command: str):
    """The thresholds file (read first: it is small), then the checked scores, and the
    class names (the file's, else the scores'; None if neither names them)."""
    record = schema.read_thresholds(_required(_THRESHOLDS, command))
    scores = _load(_SCORES, command, _SCORES_KEY.value)
    values = blocks.check_scores(scores.values)
    names = _class_names(scores, values.shape[1])
    schema.check_classes(record, values.shape[1], names)
    return scores._replace(values=values), record, schema.named_classes(record.class_names) or names


def _apply() -> None:
    output = _required(_OUTPUT, "apply")
    refuse_overwriting_inputs([("output", output)], _inputs())
    check_writable(output)
    extension = os.path.splitext(output)[1].lower()
    if extension not in (".npy", ".csv"):
        raise ValueError(f"output: unknown file type {extension!r} of {output}; use .npy or .csv")
    scores, record, names = _scores_and_thresholds("apply")
    positives = 0

    def predicted():
        nonlocal positives
        for _, block in blocks.predictions(
            scores.values,
            record.thresholds,
            min_labels=_MIN_LABELS.value,
            max_labels=_MAX_LABELS.value,
        ):
            positives += int(np.count_nonzero(block))
            yield block

    write_matrix(
        output, scores.values.shape, np.uint8, predicted(), names, row_names=scores.row_names
    )
    print(f"{positives} positive predictions in {len(scores.values)} rows -> {output}")


#: The metrics evaluate --bootstrap gives intervals of, and how it names them.
INTERVAL_LABELS = {"micro_f1": "micro-F1", "macro_f1": "macro-F1", "mean_average_precision": "mAP"}


def _ranking(truth, scores, bins) -> list[dict]:
    """Per class and macro (the mAP), average precision then ROC AUC: ``[{"per_class",
    "macro"}, ...]``; the classes where one is undefined are named in a warning."""
    per_class = blocks.ranking(truth, scores, bins)
    metrics = []
    for metric in ("average_precision", "roc_auc"):
        ranking.warn_undefined(per_class, metric, "macro", "labels")
        macro = float(ranking.averaged(per_class, metric, "macro"))
        metrics.append({"per_class": getattr(per_class, metric), "macro": macro})
    return metrics


def _json_report(rows, intervals) -> list[dict]:
    """evaluate's JSON: one object per row; with --bootstrap, ``f1_interval`` in the micro
    and macro rows and ``average_precision_interval`` (of the mAP) in the macro row."""
    objects = report.json_rows(rows)
    if intervals is not None:
        micro, macro = objects[-2], objects[-1]
        micro["f1_interval"] = intervals["micro_f1"]
        macro["f1_interval"] = intervals["macro_f1"]
        macro["average_precision_interval"] = intervals["mean_average_precision"]
    return objects


def _evaluate() -> None:
    n_resamples = _checked_bootstrap()
    curves = _CURVES.value
    if curves:
        refuse_overwriting_inputs([("curves", curves_file.check_path(curves))], _inputs())
        check_writable(curves, "curves")
    if _CURVE_BINS.value is not None and not curves:
        raise ValueError("curve_bins: --curve_bins needs --curves")
    scores, record, names = _scores_and_thresholds("evaluate")
    labels = match_rows(scores, _load(_LABELS, "evaluate", _LABELS_KEY.value))
    _check_same_classes(names, labels)
    truth = blocks.check_labels(labels.values, scores.values.shape)
    names = names or _class_names(labels, len(record.thresholds)) or record.class_names
    bins = curves_file.curve_bins(_CURVE_BINS.value, *scores.values.shape) if curves else None
    counts = blocks.confusion_counts(
        truth,
        scores.values,
        record.thresholds,
        min_labels=_MIN_LABELS.value,
        max_labels=_MAX_LABELS.value,
    )
    ranking_bins = None
    if scores.values.size > EXACT_RANKING_SCORES:
        ranking_bins = curves_file.DEFAULT_BINS
    ranked = _ranking(truth, scores.values, ranking_bins)
    rows = report.with_ranking(report_rows(*counts, record.thresholds, names), *ranked)
    intervals = None
    if n_resamples is not None:
        resampled = resampling.bootstrap_metrics(
            truth,
            scores.values,
            record.thresholds,
            n_resamples=n_resamples,
            min_labels=_MIN_LABELS.value,
            max_labels=_MAX_LABELS.value,
        )
        intervals = {
            name: [float(v) for v in interval]
            for name, interval in resampled.intervals(0.95).items()
        }
    objective = schema.recorded_objective(record)
    if _FORMAT.value == "json":
        print(json.dumps(_json_report(rows, intervals), indent=2))
    else:
        print(markdown_report(rows))
        if ranking_bins is not None:
            print(f"\nAP and ROC AUC on {ranking_bins} histogram cells per class")
        if intervals is not None:
            shown = ", ".join(
                f"{label} [{100 * intervals[name][0]:.2f}, {100 * intervals[name][1]:.2f}]"
                for name, label in INTERVAL_LABELS.items()
            )
            print(f"\n95 % intervals over {n_resamples} bootstrap resamples of the rows: {shown}")
        if objective is not None:
            value = schema.score_of(
                objective,
                record.average,
                scores.values,
                truth,
                record.thresholds,
                min_labels=_MIN_LABELS.value,
                max_labels=_MAX_LABELS.value,
            )
            print(
                f"\nthe file's objective, {score_name(objective, record.average)}: "
                f"{formatted_score(objective, value)}"
            )
    if curves:
        points = curves_file.write_curves(
            curves,
            scores.values,
            truth,
            names,
            objective=objective or jaxthresh.objectives.get("f1"),
            bins=bins,
        )
        if _FORMAT.value == "markdown":  # JSON output stays one JSON document
            where = "every distinct score" if bins is None else f"{bins} cells per class"
            print(f"\n{points} curve points ({where}) -> {curves}")


def _main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        given = argv[1] if len(argv) > 1 else "nothing"
        raise ValueError(f"command: expected one of {', '.join(COMMANDS)}, got {given}")
    _refuse_foreign_flags(argv[1])
    if argv[1] == "fit":
        _join_processes()  # before any other JAX call
    {"fit": _fit, "apply": _apply, "evaluate": _evaluate}[argv[1]]()


def main() -> None:
    """Console-script entry point."""
    sys.modules["__main__"].__doc__ = __doc__
    # --helpfull lists the key flags of the main module: make this module's flags those.
    for flag in flags.FLAGS.get_key_flags_for_module(__name__):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    runner.run(_main, positional=1, help_text=help_text)


if __name__ == "__main__":
    main()
