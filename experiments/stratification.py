"""Random against iteratively stratified folds: what each leaves of the rare classes, and
what that changes in cross-validated F1.

    python experiments/stratification.py --dataset=audioset --n_folds=3 --seeds=0,1,2,3,4

For each kind of folds (``jaxthresh.cross_validate(..., folds=...)``) and each shuffle
seed, on the rows thresholds are fitted on (AudioSet: all; DCASE: the valid subset):

* classes with no positive row in some held-out fold, and in some fitting set (the other
  folds);
* the spread of each class's positive rows over the folds (most minus fewest), mean and
  largest over the classes;
* the fold sizes (fewest and most rows);
* for each method (the paper's settings), the held-out micro-F1: its mean over the folds,
  and its standard deviation over the folds.

Figures are means over the seeds.
"""

from __future__ import annotations

import pathlib
import time

import jax
import numpy as np
import paper
from absl import flags

import jaxthresh
from jaxthresh.cli import runner
from jaxthresh.cli.files import check_writable, write_json_atomic
from jaxthresh.core import folds, validation

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]

_DATASET = flags.DEFINE_enum("dataset", "audioset", list(paper.BENCHMARKS), "Benchmark.")
_METHODS = flags.DEFINE_list("methods", ["exact", "sgl"], "Methods to cross-validate.")
_N_FOLDS = flags.DEFINE_integer("n_folds", 3, "Folds.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds of the fold shuffle.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Benchmark folder (default: $JAXTHRESH_DATA, else ../shared/data)."
)
_OUTPUT = flags.DEFINE_string("output", None, "Write the results as JSON to this path.")


def fold_figures(labels: np.ndarray, ids: np.ndarray, n_folds: int) -> dict:
    """What folds ``ids`` leave of each class's positive rows."""
    held = np.stack([labels[ids == fold].sum(0) for fold in range(n_folds)])  # [folds, C]
    fitting = held.sum(0) - held
    present = held.sum(0) > 0
    spread = (held.max(0) - held.min(0))[present]
    sizes = np.bincount(ids, minlength=n_folds)
    return {
        "classes_without_heldout_positives": int(((held == 0).any(0) & present).sum()),
        "classes_without_fitting_positives": int(((fitting == 0).any(0) & present).sum()),
        "positive_spread_mean": float(spread.mean()),
        "positive_spread_max": int(spread.max()),
        "fewest_rows": int(sizes.min()),
        "most_rows": int(sizes.max()),
    }


def _seeds(values: list[str]) -> list[int]:
    try:
        seeds = [int(value) for value in values]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise ValueError(f"seeds: expected comma-separated whole numbers >= 0, got {values}")
    return seeds


def main(argv: list[str]) -> None:
    del argv
    if _OUTPUT.value:
        check_writable(_OUTPUT.value)
    methods = paper.check_methods(_METHODS.value)
    seeds = _seeds(_SEEDS.value)
    folder = paper.resolve_data_dir(_DATA_DIR.value, PROJECT_ROOT.parent / "shared" / "data")
    benchmark = paper.load_benchmark(_DATASET.value, folder)
    scores, labels = benchmark.valid_scores, benchmark.valid_labels
    rows = validation.as_rows(scores, labels)
    report = {}
    for kind in folds.FOLD_KINDS:
        runs = []
        for seed in seeds:
            key = jax.random.key(seed)
            start = time.perf_counter()
            ids = np.asarray(folds.assign(kind, key, rows, _N_FOLDS.value))
            figures = {"deal_seconds": time.perf_counter() - start}
            figures.update(fold_figures(labels, ids, _N_FOLDS.value))
            for method in methods:
                result = jaxthresh.cross_validate(
                    scores,
                    labels,
                    method,
                    n_folds=_N_FOLDS.value,
                    fold_key=key,
                    folds=kind,
                    **paper.benchmark_hyperparameters(benchmark.name, method, {}),
                )
                assert np.array_equal(result.fold_ids, ids)
                heldout = 100 * np.asarray(result.heldout_score, np.float64)
                figures[f"{method}_mean"] = float(heldout.mean())
                figures[f"{method}_sd"] = float(heldout.std(ddof=1))
            runs.append(figures)
        report[kind] = {name: float(np.mean([run[name] for run in runs])) for name in runs[0]}
    print(markdown(report, methods))
    print(
        f"\n{benchmark.name}: {scores.shape[0]} rows x {scores.shape[1]} classes, "
        f"{_N_FOLDS.value} folds, means over seeds {', '.join(map(str, seeds))}"
    )
    if _OUTPUT.value:
        write_json_atomic(
            _OUTPUT.value,
            {
                "dataset": benchmark.name,
                "n_folds": _N_FOLDS.value,
                "seeds": seeds,
                "folds": report,
            },
        )


def markdown(report: dict, methods: list[str]) -> str:
    header = (
        "| folds | classes without held-out positives | without fitting positives | "
        "positive spread (mean / max) | fold rows | seconds to deal | "
        + " | ".join(f"{method} held-out F1 (sd)" for method in methods)
        + " |"
    )
    lines = [header, "|---|" + "---:|" * (5 + len(methods))]
    for kind, figures in report.items():
        cells = [
            kind,
            f"{figures['classes_without_heldout_positives']:.1f}",
            f"{figures['classes_without_fitting_positives']:.1f}",
            f"{figures['positive_spread_mean']:.2f} / {figures['positive_spread_max']:.1f}",
            f"{figures['fewest_rows']:.1f} to {figures['most_rows']:.1f}",
            f"{figures['deal_seconds']:.3f}",
            *(f"{figures[f'{m}_mean']:.2f} ({figures[f'{m}_sd']:.2f})" for m in methods),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    runner.run(main)
