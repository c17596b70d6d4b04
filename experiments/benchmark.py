"""Speed of one SGLThresh fit on synthetic scores, against the cost of reading them once.

    python experiments/benchmark.py --rows=20371 --classes=527 --epochs=100
    python experiments/benchmark.py --path=histogram --bins=1024 --output=bench.json
    python experiments/benchmark.py --path=bootstrap --resamples=200
    python experiments/benchmark.py --write_npy=DIR --rows=1000000 --classes=1000
    python experiments/benchmark.py --path=histogram --scores_npy=DIR/scores.npy \\
        --labels_npy=DIR/labels.npy --score_range=0,1

Paths: ``rows`` (every epoch reads every score; ``--kernel`` picks the epoch kernel:
the one for the backend by default, or ``cpu``, ``generic``, ``autodiff``, see
``jaxthresh.methods.sgl_kernels``) and ``histogram`` (one pass builds per-class
histograms, ``jaxthresh.streaming``; epochs then cost O(classes x cells)).
Prints and saves (JSON): compile seconds, warm fit seconds (median of --repeats runs),
milliseconds per epoch, and the ratio of the per-epoch time to a floor measured in the same
run (one jitted reduction over the same scores). On the histogram path also the pass's
seconds (median) and pass + fit. With --scores_npy the scores are read from disk in chunks
(never held in memory) and there is no floor. Runs on a GPU unchanged when JAX has one.
"""

from __future__ import annotations

import functools
import os
import resource
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import paper
from absl import flags

import jaxthresh
from jaxthresh import streaming
from jaxthresh.cli import runner
from jaxthresh.cli.files import check_writable, write_atomic, write_json_atomic
from jaxthresh.core import diagnostics, validation

_ROWS = flags.DEFINE_integer("rows", 20371, "Rows (clips).")
_CLASSES = flags.DEFINE_integer("classes", 527, "Classes.")
_EPOCHS = flags.DEFINE_integer("epochs", 100, "Epochs of the fit.")
_DTYPE = flags.DEFINE_enum("dtype", "float32", ["float32", "float16", "bfloat16"], "Scores.")
_PATH = flags.DEFINE_enum(
    "path",
    "rows",
    ["rows", "histogram", "ratios", "float64", "bootstrap"],
    "Fit path, every ratio on a benchmark, the cost of the checks of float64 scores, or "
    "the bootstrap against as many fits in a loop.",
)
_DATASET = flags.DEFINE_enum(
    "dataset",
    "audioset",
    list(paper.BENCHMARKS),
    "--path=ratios or bootstrap: the benchmark's scores.",
)
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "--path=ratios or bootstrap: the benchmarks' folder."
)
_RESAMPLES = flags.DEFINE_integer("resamples", 200, "--path=bootstrap: resamples.")
_BOOTSTRAP_METHODS = flags.DEFINE_list(
    "bootstrap_methods", ["exact", "sgl"], "--path=bootstrap: the methods resampled."
)
_KERNEL = flags.DEFINE_enum(
    "kernel",
    None,
    ["cpu", "generic", "autodiff"],
    "Rows path: the epoch kernel (default: the backend's).",
)
_BINS = flags.DEFINE_integer("bins", streaming.DEFAULT_BINS, "Histogram cells per class.")
_CHUNK_ROWS = flags.DEFINE_integer("chunk_rows", 8192, "Rows per chunk of the histogram pass.")
_SCORE_RANGE = flags.DEFINE_list("score_range", None, "low,high of every class's cells.")
_SCORES_NPY = flags.DEFINE_string("scores_npy", None, "Read scores from this .npy, in chunks.")
_LABELS_NPY = flags.DEFINE_string("labels_npy", None, "Labels .npy that goes with --scores_npy.")
_WRITE_NPY = flags.DEFINE_string("write_npy", None, "Write synthetic scores.npy/labels.npy here.")
_FOLDS = flags.DEFINE_integer("folds", 0, "Also time k-fold cross_validate.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Warm runs; the median is reported.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the synthetic data.")
_OUTPUT = flags.DEFINE_string("output", None, "Write the figures as JSON to this path.")


def _seconds(call) -> float:
    start = time.perf_counter()
    jax.block_until_ready(call())
    return time.perf_counter() - start


def _median_seconds(call) -> tuple[float, float]:
    """(first run, median of --repeats warm runs) of ``call``."""
    first = _seconds(call)
    return first, float(np.median([_seconds(call) for _ in range(_REPEATS.value)]))


def _write_npy(folder: str) -> dict:
    """Synthetic scores and labels written chunk by chunk, atomically."""
    rows, classes = _ROWS.value, _CLASSES.value
    chunk_rows = _CHUNK_ROWS.value

    def writer(dtype, part):
        def write(stream):
            header = {
                "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                "fortran_order": False,
                "shape": (rows, classes),
            }
            np.lib.format.write_array_header_1_0(stream, header)
            for index, start in enumerate(range(0, rows, chunk_rows)):
                chunk = paper.synthetic_problem(
                    jax.random.key(_SEED.value),
                    rows=min(chunk_rows, rows - start),
                    classes=classes,
                    chunk=index,
                )
                stream.write(np.asarray(chunk[part], dtype).tobytes())

        return write

    os.makedirs(folder, exist_ok=True)
    write_atomic(os.path.join(folder, "scores.npy"), writer(np.float32, 0))
    write_atomic(os.path.join(folder, "labels.npy"), writer(np.bool_, 1))
    return {"wrote": folder, "rows": rows, "classes": classes}


def _score_range():
    if _SCORE_RANGE.value is None:
        return None
    try:
        low, high = (float(v) for v in _SCORE_RANGE.value)
    except ValueError:
        raise ValueError(f"score_range: expected low,high; got {_SCORE_RANGE.value}") from None
    return low, high


def _histogram_figures(source) -> dict:
    def histogram():
        return streaming.histogram_pass(
            *source, bins=_BINS.value, chunk_rows=_CHUNK_ROWS.value, score_range=_score_range()
        ).counts

    pass_first, pass_seconds = _median_seconds(histogram)
    built = streaming.histogram_pass(
        *source, bins=_BINS.value, chunk_rows=_CHUNK_ROWS.value, score_range=_score_range()
    )

    def fit():
        return jaxthresh.fit_histogram("sgl", built, init=0.3, epochs=_EPOCHS.value).thresholds

    fit_first, fit_seconds = _median_seconds(fit)
    return {
        "bins": _BINS.value,
        "pass_seconds_median": round(pass_seconds, 4),
        "pass_first_seconds": round(pass_first, 4),
        "compile_seconds": round(fit_first - fit_seconds, 4),
        "fit_seconds_median": round(fit_seconds, 4),
        "pass_plus_fit_seconds": round(pass_seconds + fit_seconds, 4),
    }


def main(argv: list[str]) -> None:
    del argv
    if _OUTPUT.value:
        check_writable(_OUTPUT.value)
    for flag in (_ROWS, _CLASSES, _EPOCHS, _REPEATS, _BINS, _CHUNK_ROWS):
        if flag.value < 1:
            raise ValueError(f"{flag.name}: must be >= 1, got {flag.value}")
    if _WRITE_NPY.value:
        figures = _write_npy(_WRITE_NPY.value)
    elif _SCORES_NPY.value:
        if _PATH.value != "histogram" or not _LABELS_NPY.value:
            raise ValueError("scores_npy: needs --path=histogram and --labels_npy")
        source = (_SCORES_NPY.value, _LABELS_NPY.value)
        rows, classes = streaming.NpyChunks(*source).shape
        figures = {"rows": rows, "classes": classes, "source": "npy"}
        figures.update(_histogram_figures(source))
    elif _PATH.value == "ratios":
        figures = _ratio_figures()
    elif _PATH.value == "float64":
        figures = _float64_figures()
    elif _PATH.value == "bootstrap":
        figures = _bootstrap_figures()
    else:
        figures = _in_memory_figures()
    figures = {
        "device": str(jax.devices()[0]),
        "epochs": _EPOCHS.value,
        "path": _PATH.value,
        "kernel": _KERNEL.value or "backend's",
        **figures,
    }
    for name, value in figures.items():
        print(f"{name}: {value}")
    if _OUTPUT.value:
        write_json_atomic(_OUTPUT.value, figures)


def _in_memory_figures() -> dict:
    scores, labels = paper.synthetic_problem(
        jax.random.key(_SEED.value),
        rows=_ROWS.value,
        classes=_CLASSES.value,
        dtype=jnp.dtype(_DTYPE.value),
    )
    scores = scores.astype(jnp.float32)  # what the library fits on
    floor = jax.jit(lambda s: jnp.sum(s, axis=0))
    _seconds(lambda: floor(scores))
    floor_seconds = float(np.median([_seconds(lambda: floor(scores)) for _ in range(7)]))
    figures = {
        "rows": _ROWS.value,
        "classes": _CLASSES.value,
        "dtype": _DTYPE.value,
        "floor_ms": round(1000 * floor_seconds, 4),
    }
    if _PATH.value == "histogram":
        figures.update(_histogram_figures((np.asarray(scores), np.asarray(labels))))
        fit_seconds = figures["fit_seconds_median"]
    else:

        def fit():
            return jaxthresh.fit_sgl(
                scores, labels, init=0.3, epochs=_EPOCHS.value, kernel=_KERNEL.value
            ).thresholds

        first, fit_seconds = _median_seconds(fit)
        figures["compile_seconds"] = round(first - fit_seconds, 4)
        figures["fit_seconds_median"] = round(fit_seconds, 4)
    epoch_ms = 1000 * fit_seconds / _EPOCHS.value
    figures["ms_per_epoch"] = round(epoch_ms, 4)
    figures["epoch_to_floor_ratio"] = round(epoch_ms / (1000 * floor_seconds), 2)
    if _FOLDS.value:
        bins = _BINS.value if _PATH.value == "histogram" else None

        def cross_validate():
            return jaxthresh.cross_validate(
                scores,
                labels,
                "sgl",
                n_folds=_FOLDS.value,
                init=0.3,
                epochs=_EPOCHS.value,
                bins=bins,
                kernel=_KERNEL.value,
            ).heldout_score

        first, cv_seconds = _median_seconds(cross_validate)
        figures["folds"] = _FOLDS.value
        figures["cv_compile_seconds"] = round(first - cv_seconds, 4)
        figures["cv_seconds_median"] = round(cv_seconds, 4)
    return figures


def _peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ratio_figures() -> dict:
    """Each speed target as a ratio to its floor or peer, measured in this one process.

    Floors: one ``np.sort(scores, axis=0)`` (the exact searches), one jitted column sum of
    the scores (SGLThresh's epochs), one SGLThresh ``cross_validate`` (``fit_auto``)."""
    data_dir = paper.resolve_data_dir(_DATA_DIR.value, paper.DEFAULT_DATA_DIR)
    benchmark = paper.load_benchmark(_DATASET.value, data_dir)
    scores, labels = benchmark.valid_scores, benchmark.valid_labels
    repeats = _REPEATS.value
    folds = _FOLDS.value or 3

    def median(call, runs=repeats):
        _seconds(call)  # compiles
        return float(np.median([_seconds(call) for _ in range(runs)]))

    column_sum = jax.jit(lambda s: jnp.sum(s, axis=0))
    device_scores = jnp.asarray(scores)
    sort_seconds = median(lambda: np.sort(scores, axis=0))
    sum_seconds = median(lambda: column_sum(device_scores), runs=max(repeats, 7))
    figures = {
        "dataset": _DATASET.value,
        "rows": scores.shape[0],
        "classes": scores.shape[1],
        "sort_floor_ms": round(1000 * sort_seconds, 4),
        "column_sum_floor_ms": round(1000 * sum_seconds, 3),
    }
    for average in ("micro", "macro"):
        fit_exact = functools.partial(jaxthresh.fit_exact, scores, labels, average=average)
        seconds = median(lambda fit=fit_exact: fit().thresholds)
        figures[f"exact_{average}_ms"] = round(1000 * seconds, 4)
        figures[f"exact_{average}_to_sort"] = round(seconds / sort_seconds, 2)
    epochs = _EPOCHS.value
    seconds = median(lambda: jaxthresh.fit_sgl(scores, labels, epochs=epochs).thresholds)
    figures["sgl_epoch_ms"] = round(1000 * seconds / epochs, 3)
    figures["sgl_epoch_to_column_sum"] = round(seconds / epochs / sum_seconds, 2)

    def histogram_and_fit():
        built = streaming.histogram_pass(scores, labels, bins=_BINS.value)
        return jaxthresh.fit_histogram("sgl", built, epochs=epochs).thresholds

    seconds = median(histogram_and_fit)
    figures["histogram_path_ms"] = round(1000 * seconds, 1)
    figures["histogram_path_to_column_sum"] = round(seconds / sum_seconds, 1)
    sgl_cv = median(
        lambda: jaxthresh.cross_validate(scores, labels, "sgl", n_folds=folds).heldout_score,
        runs=max(1, repeats // 2),
    )
    auto_cv = median(
        lambda: jaxthresh.cross_validate(scores, labels, "auto", n_folds=folds).heldout_score,
        runs=max(1, repeats // 2),
    )
    figures["folds"] = folds
    figures["sgl_cv_seconds"] = round(sgl_cv, 4)
    figures["auto_cv_seconds"] = round(auto_cv, 4)
    figures["auto_cv_to_sgl_cv"] = round(auto_cv / sgl_cv, 2)
    figures["peak_rss_mb"] = round(_peak_rss_mb())
    return figures


def _bootstrap_figures() -> dict:
    """``jaxthresh.bootstrap`` (every resample in one compiled call) against as many
    separate ``jaxthresh.fit`` calls in a loop, each given the same resample's weights,
    side by side, one run of each (compilation included in both); the peak RSS after the
    bootstraps (the loops come after them) and after both."""
    data_dir = paper.resolve_data_dir(_DATA_DIR.value, paper.DEFAULT_DATA_DIR)
    benchmark = paper.load_benchmark(_DATASET.value, data_dir)
    scores, labels = benchmark.valid_scores, benchmark.valid_labels
    resamples = _RESAMPLES.value
    figures = {"dataset": _DATASET.value, "rows": scores.shape[0], "classes": scores.shape[1]}
    figures["resamples"] = resamples
    methods = paper.check_methods(_BOOTSTRAP_METHODS.value)
    results = {}
    for method in methods:  # one run each, compilation included (the loop's too)
        hyperparameters = {"epochs": _EPOCHS.value} if method == "sgl" else {}
        start = time.perf_counter()
        results[method] = jax.block_until_ready(
            jaxthresh.bootstrap(scores, labels, method, n_resamples=resamples, **hyperparameters)
        )
        figures[f"{method}_bootstrap_seconds"] = round(time.perf_counter() - start, 2)
    figures["peak_rss_mb_after_bootstraps"] = round(_peak_rss_mb())
    with warnings.catch_warnings():  # resamples that leave classes without positives
        warnings.simplefilter("ignore", diagnostics.FitWarning)
        for method in methods:
            hyperparameters = {"epochs": _EPOCHS.value} if method == "sgl" else {}
            weights = np.asarray(results[method].sample_weight)
            start = time.perf_counter()
            looped = [
                np.asarray(jaxthresh.fit(method, scores, labels, w, **hyperparameters).thresholds)
                for w in weights
            ]
            seconds = time.perf_counter() - start
            figures[f"{method}_loop_seconds"] = round(seconds, 2)
            figures[f"{method}_loop_to_bootstrap"] = round(
                seconds / figures[f"{method}_bootstrap_seconds"], 2
            )
            figures[f"{method}_same_thresholds"] = bool(
                np.array_equal(np.stack(looped), np.asarray(results[method].thresholds))
            )
    figures["peak_rss_mb"] = round(_peak_rss_mb())
    return figures


def _float64_figures() -> dict:
    """What the checks of float64 scores cost (``validation.float32_merges``, the one that
    sorts, and a whole ``fit_exact``): on a float64 copy of a benchmark's float32 scores
    (float32 holds every value), and on that copy plus 1e-9 noise (it holds none)."""
    data_dir = paper.resolve_data_dir(_DATA_DIR.value, paper.DEFAULT_DATA_DIR)
    benchmark = paper.load_benchmark(_DATASET.value, data_dir)
    scores, labels = benchmark.valid_scores, benchmark.valid_labels
    noise = np.random.default_rng(_SEED.value).normal(0, 1e-9, scores.shape)
    inputs = {
        "float32": scores,
        "float64_exact": scores.astype(np.float64),
        "float64_noisy": scores.astype(np.float64) + noise,
    }
    figures = {"dataset": _DATASET.value, "rows": scores.shape[0], "classes": scores.shape[1]}
    for name, values in inputs.items():
        check = functools.partial(validation.float32_merges, values, labels)
        fit = functools.partial(jaxthresh.fit_exact, values, labels)
        _seconds(fit)  # compiles
        for what, call in (("merges_check", check), ("fit_exact", fit)):
            seconds = np.median([_seconds(call) for _ in range(_REPEATS.value)])
            figures[f"{what}_{name}_ms"] = round(1000 * float(seconds), 1)
    return figures


if __name__ == "__main__":
    runner.run(main)
