"""The paper's benchmarks (Table 2 of Pellegrini & Masquelier, ICASSP 2021): loading, settings,
running a method on one, the paper's own figures to compare against, and a synthetic
AudioSet-size problem for the speed benchmarks. Experiment code: the library never imports
it."""

from __future__ import annotations

import functools
import os
import pathlib
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

import jaxthresh
from jaxthresh.cli.files import check_writable
from jaxthresh.methods import configure, get_method

FILES = {
    "dcase2017": "dcase2017.npz",
    "dcase2019": "dcase2019.npz",
    "audioset": "audioset_eval_sim.npz",
}
BENCHMARKS = tuple(FILES)
# The benchmarks' folder beside the project's clone (``--data_dir`` or $JAXTHRESH_DATA
# override it).
DEFAULT_DATA_DIR = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"

# Table 2 of the paper: micro-F1 in percent as (eval, valid). AudioSet: 3-fold CV means.
PAPER_TABLE2 = {
    "dcase2017": {
        "default": (59.0, 53.8),
        "dicho": (61.4, 58.1),
        "numerical": (60.3, 58.7),
        "sgl": (62.0, 61.8),
    },
    "dcase2019": {
        "default": (71.3, 70.1),
        "dicho": (71.4, 71.7),
        "numerical": (72.2, 71.4),
        "sgl": (73.0, 72.9),
    },
    "audioset": {
        "default": (50.7, 50.7),
        "dicho": (53.5, 53.6),
        "numerical": (52.1, 53.6),
        "sgl": (54.9, 56.7),
    },
}

# Macro-F1 in percent (eval, valid), as the paper's text gives it: DCASE 2017 eval only.
PAPER_MACRO = {"dcase2017": {"default": (53.4, None), "sgl": (62.5, None)}}

# The methods of the table: every registered one but "constrained" (the best objective
# under a bound on precision or recall: no row of Table 2).
TABLE2_METHODS = tuple(name for name in jaxthresh.METHODS if name != "constrained")

# The settings behind the paper's figures, per benchmark and method.
# numThresh starts where SGLThresh does; dichoThresh needs only its PRNG key.
PAPER_SETTINGS = {
    "dcase2017": {"default": {"threshold": 0.3}, "sgl": {"init": 0.3}, "numerical": {"init": 0.3}},
    "dcase2019": {"default": {"threshold": 0.5}, "sgl": {"init": 0.5}, "numerical": {"init": 0.5}},
    "audioset": {"default": {"threshold": 0.5}, "sgl": {"init": 0.3}, "numerical": {"init": 0.3}},
}


def define_run_flags():
    """The flags of the binaries that run methods on benchmarks (``table2.py``,
    ``objectives.py``): ``(--dataset, --methods, --data_dir, --output)`` holders."""
    return (
        flags.DEFINE_list("dataset", list(BENCHMARKS), "Benchmarks to run."),
        flags.DEFINE_list("methods", list(TABLE2_METHODS), "Methods to run."),
        flags.DEFINE_string(
            "data_dir",
            None,
            "Folder with the benchmark .npz files. Default: $JAXTHRESH_DATA if set, else "
            "../shared/data relative to the project root.",
        ),
        flags.DEFINE_string("output", None, "Write the results as JSON to this path."),
    )


def checked_run_flags(dataset, methods, data_dir, output) -> tuple[list, list, str]:
    """The values of :func:`define_run_flags`' flags checked before any work (the output
    writable, the benchmarks and methods known): ``(datasets, methods, data folder)``."""
    if output.value:
        check_writable(output.value)
    return (
        check_datasets(dataset.value),
        check_methods(methods.value),
        resolve_data_dir(data_dir.value, DEFAULT_DATA_DIR),
    )


def benchmark_hyperparameters(dataset: str, method: str, overrides: dict) -> dict:
    """The paper's settings of ``method`` on ``dataset``, updated with ``overrides``
    (``{name: value}`` of the method's hyperparameters)."""
    settings = dict(PAPER_SETTINGS.get(dataset, {}).get(method, {}))
    settings.update(overrides)
    return settings


def plan_runs(
    loaded: list[Benchmark], methods: list[str], overrides: dict[str, dict]
) -> list[tuple[Benchmark, str, dict]]:
    """Every ``(benchmark, method, hyperparameters)`` run, all validated before any starts;
    ``overrides``: ``{method: {name: value}}``."""
    runs = []
    for benchmark in loaded:
        for method in methods:
            hyperparameters = benchmark_hyperparameters(
                benchmark.name, method, overrides.get(method, {})
            )
            configure(method, benchmark.valid_scores.shape[1], **hyperparameters)
            runs.append((benchmark, method, hyperparameters))
    return runs


def check_methods(methods) -> list[str]:
    """Checks that every name in ``methods`` is a registered method; returns them as a list."""
    methods = list(methods)
    if not methods:
        raise ValueError("methods: is empty; name at least one method")
    for method in methods:
        get_method(method)
    return methods


def check_datasets(datasets) -> list[str]:
    """Checks that every name in ``datasets`` is a known benchmark; returns them as a list."""
    datasets = list(datasets)
    if not datasets:
        raise ValueError("dataset: is empty; name at least one benchmark")
    unknown = [d for d in datasets if d not in FILES]
    if unknown:
        raise ValueError(
            f"dataset: unknown benchmark {unknown[0]!r}; known: {', '.join(BENCHMARKS)}"
        )
    return datasets


class Benchmark(NamedTuple):
    """One benchmark's data.

    Attributes:
      name: one of :data:`BENCHMARKS`.
      valid_scores: float32[n, classes], the rows thresholds are fitted on (all rows for a
        cross-validated benchmark).
      valid_labels: bool[n, classes].
      eval_scores: float32[m, classes], the rows thresholds are scored on; None where the
        benchmark is cross-validated (AudioSet).
      eval_labels: bool[m, classes] or None.
    """

    name: str
    valid_scores: np.ndarray
    valid_labels: np.ndarray
    eval_scores: np.ndarray | None
    eval_labels: np.ndarray | None


class MethodResult(NamedTuple):
    """One method on one benchmark. Scores (the fit's objective, micro-F1 by default) in
    percent; means over folds where cross-validated.

    Attributes:
      valid_f1: the score on the fitting rows.
      eval_f1: the score on the evaluation rows (held-out folds where cross-validated).
      seconds: wall-clock seconds of the fit (cross-validation: all folds), compilation
        included.
      thresholds: float32[classes], or float32[folds, classes] where cross-validated.
      history: float32[steps], the method's score per epoch or step on the fitting data
        (the first fold's where cross-validated); None for methods without one.
      hyperparameters: every hyperparameter of the fit, as ``thresholds.json`` records them.
      average: the average of the objective fitted and reported.
    """

    valid_f1: float
    eval_f1: float
    seconds: float
    thresholds: np.ndarray
    history: np.ndarray | None = None
    hyperparameters: dict | None = None
    average: str = "micro"


def resolve_data_dir(given: str | None, default: str | os.PathLike) -> str:
    """The benchmark folder: ``given`` (a flag's value) if set, else ``$JAXTHRESH_DATA``,
    else ``default``."""
    if given:
        return given
    return os.environ.get("JAXTHRESH_DATA", os.fspath(default))


def load_benchmark(name: str, data_dir: str | os.PathLike) -> Benchmark:
    """Loads a benchmark from ``data_dir``.

    Raises:
      ValueError: unknown ``name``.
      FileNotFoundError: the file is not in ``data_dir`` (the message names the path).
    """
    check_datasets([name])
    path = os.path.join(os.fspath(data_dir), FILES[name])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file not found: {path}; set --data_dir or $JAXTHRESH_DATA")
    with np.load(path) as data:
        try:
            if "scores" in data:
                return Benchmark(name, *_checked(data["scores"], data["labels"]), None, None)
            valid = _checked(data["valid_scores"], data["valid_labels"])
            evaluation = _checked(data["eval_scores"], data["eval_labels"])
        except KeyError as error:
            raise ValueError(f"dataset: {path} lacks {error}; it has {data.files}") from None
    return Benchmark(name, *valid, *evaluation)


def _checked(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """float32 scores and bool labels, checked as the library checks its inputs."""
    jaxthresh.apply_thresholds(scores, 0.0)  # checks the scores
    labels = np.asarray(labels)
    jaxthresh.f1_score(labels, labels)  # checks the labels
    if labels.shape != np.shape(scores):
        raise ValueError(f"labels: shape {labels.shape} does not match scores {np.shape(scores)}")
    return np.asarray(scores, np.float32), labels.astype(bool)


def _percent(value) -> float:
    return round(100.0 * float(value), 2)


def run_method(
    benchmark: Benchmark,
    method: str,
    hyperparameters: dict,
    *,
    seed: int = 0,
    n_folds: int = 3,
    progress: bool = False,
) -> MethodResult:
    """Fits ``method`` with ``hyperparameters`` on a benchmark and scores it as the paper
    does, by the objective its ``objective`` and ``average`` hyperparameters name (default
    micro-F1).

    With an eval split: fit on the valid rows, score on valid and eval (the eval rows are
    used for nothing else). Without one: ``n_folds``-fold cross-validation
    (:func:`jaxthresh.cross_validate`) with shuffle ``seed``.
    """
    config = configure(method, benchmark.valid_scores.shape[1], **hyperparameters)
    described = {"hyperparameters": config.record(), "average": config.average}
    start = time.perf_counter()
    if benchmark.eval_scores is None:
        result = jaxthresh.cross_validate(
            benchmark.valid_scores,
            benchmark.valid_labels,
            method,
            n_folds=n_folds,
            fold_key=jax.random.key(seed),
            progress=progress,
            **hyperparameters,
        )
        jax.block_until_ready(result)
        seconds = time.perf_counter() - start
        history = getattr(result.fits, "history", None)
        return MethodResult(
            _percent(np.mean(result.fit_score)),
            _percent(np.mean(result.heldout_score)),
            seconds,
            np.asarray(result.thresholds),
            None if history is None else np.asarray(history[0]),
            **described,
        )
    fitted = jax.block_until_ready(
        jaxthresh.fit(
            method,
            benchmark.valid_scores,
            benchmark.valid_labels,
            progress=progress,
            **hyperparameters,
        )
    )
    seconds = time.perf_counter() - start
    thresholds = fitted.thresholds
    history = getattr(fitted, "history", None)

    def score(scores, labels):
        predictions = jaxthresh.apply_thresholds(scores, thresholds)
        return _percent(
            jaxthresh.score_predictions(
                labels, predictions, objective=config.objective, average=config.average
            )
        )

    return MethodResult(
        score(benchmark.valid_scores, benchmark.valid_labels),
        score(benchmark.eval_scores, benchmark.eval_labels),
        seconds,
        np.asarray(thresholds),
        None if history is None else np.asarray(history),
        **described,
    )


def paper_figures(dataset: str, method: str, average: str = "micro") -> dict | None:
    """The paper's ``{"eval_f1", "valid_f1"}`` (percent, None where not given) for a cell of
    Table 2 (micro) or of the macro figures in its text, or None."""
    table = PAPER_TABLE2 if average == "micro" else PAPER_MACRO
    figures = table.get(dataset, {}).get(method)
    return None if figures is None else {"eval_f1": figures[0], "valid_f1": figures[1]}


def markdown_table(results: dict[str, dict[str, MethodResult]], average: str = "micro") -> str:
    """A Markdown table of ``{benchmark: {method: MethodResult}}`` beside the paper's figures."""

    def paper(dataset, method, key):
        figures = paper_figures(dataset, method, average)
        value = None if figures is None else figures[key]
        return "-" if value is None else f"{value:.1f}"

    lines = [
        f"| dataset | method | eval {average}-F1 | valid {average}-F1 | paper eval | paper valid "
        "| seconds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for dataset, by_method in results.items():
        for method, r in by_method.items():
            paper_eval, paper_valid = (
                paper(dataset, method, "eval_f1"),
                paper(dataset, method, "valid_f1"),
            )
            lines.append(
                f"| {dataset} | {method} | {r.eval_f1:.2f} | {r.valid_f1:.2f} | "
                f"{paper_eval} | {paper_valid} | {r.seconds:.2f} |"
            )
    return "\n".join(lines)


def plot_benchmark(
    benchmark: Benchmark, results: dict[str, MethodResult], folder: str
) -> list[str]:
    """Learning curves, thresholds against class frequency, and F1 against threshold for the
    most frequent classes (SGLThresh's thresholds marked, else the first method's) of one
    benchmark; first fold where cross-validated. Needs matplotlib. Returns the PNG paths."""
    from jaxthresh.cli import plots

    def first_fold(thresholds):
        return thresholds if thresholds.ndim == 1 else thresholds[0]

    thresholds = {m: first_fold(r.thresholds) for m, r in results.items()}
    histories = {m: r.history for m, r in results.items() if r.history is not None}
    marked = thresholds.get("sgl", next(iter(thresholds.values())))
    name = benchmark.name
    paths = [
        plots.thresholds_by_frequency(
            thresholds, benchmark.valid_labels, folder, f"{name}_thresholds.png"
        ),
        plots.f1_against_threshold(
            benchmark.valid_scores, benchmark.valid_labels, marked, folder, f"{name}_f1.png"
        ),
    ]
    if histories:
        paths.append(plots.learning_curves(histories, folder, f"{name}_learning_curves.png"))
    return paths


@functools.partial(jax.jit, static_argnames=("rows", "classes", "dtype"))
def synthetic_problem(
    key: jax.Array, *, rows: int, classes: int, dtype=jnp.float32, chunk: int = 0
) -> tuple[jax.Array, jax.Array]:
    """An AudioSet-like problem generated on the device: per-class positive rates
    log-uniform in [0.1%, 10%], scores ``sigmoid(-4 + 4 y + logistic noise)``.

    ``chunk`` numbers successive blocks of rows of one larger problem (same rates, new rows).

    Returns:
      ``(scores, labels)``: ``dtype[rows, classes]`` in (0, 1) and ``bool[rows, classes]``.
    """
    rate_key, label_key, noise_key = jax.random.split(key, 3)
    label_key, noise_key = (jax.random.fold_in(k, chunk) for k in (label_key, noise_key))
    rates = 10.0 ** jax.random.uniform(rate_key, (classes,), minval=-3.0, maxval=-1.0)
    labels = jax.random.uniform(label_key, (rows, classes)) < rates
    noise = jax.random.logistic(noise_key, (rows, classes))
    scores = jax.nn.sigmoid(-4.0 + 4.0 * labels + noise)
    return scores.astype(dtype), labels
