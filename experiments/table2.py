"""Reproduces Table 2 of the SGLThresh paper: micro-F1 of each method on each benchmark.

    python experiments/table2.py                                   # everything
    python experiments/table2.py --dataset=dcase2017 --methods=sgl --output=table2.json

DCASE benchmarks: thresholds are fitted on the valid subset and scored on eval. AudioSet:
3-fold cross-validation (one compiled call), figures are means over folds.
"""

from __future__ import annotations

import pathlib

import jax
from absl import flags, logging

import jaxthresh
from jaxthresh import _cli, _validation, benchmarks, plots
from jaxthresh.io import check_writable, float32_list, write_json_atomic

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]

_DATASET = flags.DEFINE_list("dataset", list(benchmarks.BENCHMARKS), "Benchmarks to run.")
_METHODS = flags.DEFINE_list("methods", list(jaxthresh.METHODS), "Methods to run.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir",
    None,
    "Folder with the benchmark .npz files. Default: $JAXTHRESH_DATA if set, else "
    "../shared/data relative to the project root.",
)
_INIT = flags.DEFINE_float(
    "init",
    None,
    "SGLThresh and numThresh initial threshold. Default: the paper's (0.3 or 0.5 by dataset).",
)
_SLOPE = flags.DEFINE_float("slope", 50.0, "SGLThresh initial sigmoid slope a.")
_LEARNING_RATE = flags.DEFINE_float(
    "learning_rate", 1e-2, "SGLThresh and numThresh Adam learning rate."
)
_EPOCHS = flags.DEFINE_integer("epochs", 100, "SGLThresh and numThresh full-batch epochs.")
_LEARN_SLOPE = flags.DEFINE_bool("learn_slope", True, "SGLThresh: learn the slope per class.")
_BINS = flags.DEFINE_integer(
    "bins",
    None,
    "Histogram path of SGLThresh, numThresh and exact: equal cells per class (default: rows).",
)
_THRESHOLD = flags.DEFINE_float(
    "threshold", None, "defThresh's global threshold. Default: the paper's (0.3 or 0.5)."
)
_STEP = flags.DEFINE_float("step", None, "numThresh finite-difference step (default 0.01).")
_MAX_SEARCH = flags.DEFINE_integer(
    "max_search", None, "numThresh: most steps tried while F1 does not change (default 10)."
)
_STEPS = flags.DEFINE_integer("steps", None, "dichoThresh refinement steps (default 100).")
_CANDIDATES = flags.DEFINE_integer(
    "candidates", None, "dichoThresh random candidates per step (default 16)."
)
_SPREAD = flags.DEFINE_float(
    "spread", None, "dichoThresh initial perturbation spread (default 0.05)."
)
_SHRINK = flags.DEFINE_float("shrink", None, "dichoThresh spread factor per step (default 0.97).")
_AVERAGE = flags.DEFINE_enum(
    "average", "micro", ["micro", "macro"], "F1 that every method maximizes and reports."
)
_SEED = flags.DEFINE_integer(
    "seed", 0, "Seed of the cross-validation shuffle and of dichoThresh's PRNG key."
)
_OUTPUT = flags.DEFINE_string("output", None, "Write the results as JSON to this path.")
_PLOT_DIR = flags.DEFINE_string(
    "plot_dir", None, "Write PNG plots here (needs the plot extra: pip install '.[plot]')."
)


def main(argv: list[str]) -> None:
    del argv
    if _OUTPUT.value:
        check_writable(_OUTPUT.value)
    if _PLOT_DIR.value:
        plots.require_matplotlib()
    seed = _validation.whole_number(_SEED.value, "seed")
    datasets = benchmarks.check_datasets(_DATASET.value)
    methods = benchmarks.check_methods(_METHODS.value)
    overrides = {
        "init": _INIT.value,
        "slope": _SLOPE.value,
        "learning_rate": _LEARNING_RATE.value,
        "epochs": _EPOCHS.value,
        "learn_slope": _LEARN_SLOPE.value,
        "threshold": _THRESHOLD.value,
        "bins": _BINS.value,
        "step": _STEP.value,
        "max_search": _MAX_SEARCH.value,
        "steps": _STEPS.value,
        "candidates": _CANDIDATES.value,
        "spread": _SPREAD.value,
        "shrink": _SHRINK.value,
        "key": jax.random.key(seed),
        "average": _AVERAGE.value,
        "seed": seed,
    }
    folder = benchmarks.resolve_data_dir(_DATA_DIR.value, PROJECT_ROOT.parent / "shared" / "data")
    loaded = [benchmarks.load_benchmark(name, folder) for name in datasets]

    results, report = {}, {}
    for benchmark, method, hyperparameters in benchmarks.plan_runs(loaded, methods, overrides):
        result = benchmarks.run_method(benchmark, method, hyperparameters, seed=seed)
        logging.info(
            "%s %s: eval F1 %.2f, valid F1 %.2f, %.2f s",
            benchmark.name,
            method,
            result.eval_f1,
            result.valid_f1,
            result.seconds,
        )
        results.setdefault(benchmark.name, {})[method] = result
        report.setdefault(benchmark.name, {})[method] = {
            "valid_f1": result.valid_f1,
            "eval_f1": result.eval_f1,
            "seconds": round(result.seconds, 3),
            "thresholds": float32_list(result.thresholds),
            "hyperparameters": benchmarks.jsonable_hyperparameters(hyperparameters),
            "paper": benchmarks.paper_figures(benchmark.name, method, _AVERAGE.value),
        }
    print(benchmarks.markdown_table(results, _AVERAGE.value))
    if _PLOT_DIR.value:
        for benchmark in loaded:
            benchmarks.plot_benchmark(benchmark, results[benchmark.name], _PLOT_DIR.value)
    if _OUTPUT.value:
        write_json_atomic(_OUTPUT.value, report)


if __name__ == "__main__":
    _cli.run(main)
