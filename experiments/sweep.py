"""Held-out F1 against hyperparameters: every combination times every fold, one call.

    python experiments/sweep.py --dataset=audioset --slope=5,20,50,100,500 \
        --learning_rate=0.001,0.01,0.03 --output=sweep.json --plot_dir=plots

Cross-validates on the rows thresholds are fitted on (DCASE: the valid subset; the eval
subset is not used). SGLThresh runs on the histogram path (--bins) unless --bins=0.
"""

from __future__ import annotations

import time

import jax
import paper
from absl import flags

import jaxthresh
from jaxthresh.cli import plots, runner
from jaxthresh.cli.files import check_writable, float32_list, write_json_atomic
from jaxthresh.cli.report import markdown_sweep
from jaxthresh.core import validation

_DATASET = flags.DEFINE_enum("dataset", "dcase2017", list(paper.BENCHMARKS), "Benchmark.")
_METHOD = flags.DEFINE_string("method", "sgl", "Method whose hyperparameters are swept.")
_SLOPE = flags.DEFINE_list("slope", ["5", "20", "50", "100", "500"], "Slopes to sweep.")
_LEARNING_RATE = flags.DEFINE_list(
    "learning_rate", ["0.001", "0.01", "0.03"], "Learning rates to sweep."
)
_INIT = flags.DEFINE_list("init", None, "Initial thresholds to sweep (default: the paper's).")
_EPOCHS = flags.DEFINE_integer("epochs", 100, "Epochs (fixed).")
_BINS = flags.DEFINE_integer("bins", 1024, "Histogram cells per class (0: the exact path).")
_N_FOLDS = flags.DEFINE_integer("n_folds", 3, "Folds.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the fold shuffle.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Benchmark folder (default: $JAXTHRESH_DATA, else ../shared/data)."
)
_OUTPUT = flags.DEFINE_string("output", None, "Write the results as JSON to this path.")
_PLOT_DIR = flags.DEFINE_string("plot_dir", None, "Write PNG plots here (plot extra).")


def _numbers(flag) -> list[float]:
    try:
        return [float(value) for value in flag.value]
    except ValueError:
        raise ValueError(
            f"{flag.name}: expected comma-separated numbers, got {flag.value}"
        ) from None


def main(argv: list[str]) -> None:
    del argv
    if _OUTPUT.value:
        check_writable(_OUTPUT.value)
    if _PLOT_DIR.value:
        plots.require_matplotlib()
    folder = paper.resolve_data_dir(_DATA_DIR.value, paper.DEFAULT_DATA_DIR)
    benchmark = paper.load_benchmark(_DATASET.value, folder)
    paper_init = paper.PAPER_SETTINGS[benchmark.name]["sgl"]["init"]
    given = {
        "slope": _numbers(_SLOPE) if _SLOPE.value else None,
        "learning_rate": _numbers(_LEARNING_RATE) if _LEARNING_RATE.value else None,
        "init": _numbers(_INIT) if _INIT.value else paper_init,
        "epochs": _EPOCHS.value,
        "bins": _BINS.value or None,
    }
    names = (
        jaxthresh.METHODS[_METHOD.value].hyperparameters()
        if _METHOD.value in jaxthresh.METHODS
        else {}
    )
    hyperparameters = {k: v for k, v in given.items() if k in names and v is not None}
    start = time.perf_counter()
    result = jaxthresh.sweep(
        benchmark.valid_scores,
        benchmark.valid_labels,
        _METHOD.value,
        n_folds=_N_FOLDS.value,
        fold_key=jax.random.key(validation.positive_int(_SEED.value, "seed", minimum=0)),
        **hyperparameters,
    )
    jax.block_until_ready(result)
    seconds = time.perf_counter() - start
    points, folds = result.heldout_score.shape
    print(markdown_sweep(result))
    print(f"\n{points} points x {folds} folds in one compiled call: {seconds:.2f} s")
    if _OUTPUT.value:
        write_json_atomic(
            _OUTPUT.value,
            {
                "dataset": benchmark.name,
                "method": _METHOD.value,
                "n_folds": _N_FOLDS.value,
                "seed": _SEED.value,
                "fixed": {k: v for k, v in hyperparameters.items() if k not in result.grid},
                "grid": {k: v.tolist() for k, v in result.grid.items()},
                "fit_score": float32_list(result.fit_score),
                "heldout_score": float32_list(result.heldout_score),
                "seconds": round(seconds, 3),
            },
        )
    if _PLOT_DIR.value:
        plots.sweep_curves(result.grid, result.heldout_score, _PLOT_DIR.value, benchmark.name)


if __name__ == "__main__":
    runner.run(main)
