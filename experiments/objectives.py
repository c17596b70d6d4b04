"""Every method x every objective on the three benchmarks: the score each reaches on eval data.

    python experiments/objectives.py                                  # everything
    python experiments/objectives.py --dataset=dcase2017 --methods=sgl,exact

Objectives: micro-F1, micro-Jaccard, micro-accuracy, macro-MCC and a cost (the micro sum of
a utility: a true positive gains 1, a false alarm costs 0.2, a miss costs 1). DCASE
benchmarks: fitted on the valid subset, scored on eval; AudioSet: 3-fold cross-validation
(means over folds). Every other hyperparameter is the paper's setting (Table 2), else the
method's default: ``default`` is the paper's fixed threshold (0.3 on DCASE 2017, 0.5
elsewhere), the same for every objective, the baseline the others move from. Each run
scores the objective it was fitted for.
"""

from __future__ import annotations

import jax
import paper
from absl import flags, logging

from jaxthresh import objectives
from jaxthresh.cli import runner
from jaxthresh.cli.files import write_json_atomic

#: The objectives of the table: (column name, objective, average).
OBJECTIVES = (
    ("micro-F1", "f1", "micro"),
    ("micro-Jaccard", "jaccard", "micro"),
    ("micro-accuracy", "accuracy", "micro"),
    ("macro-MCC", "mcc", "macro"),
    ("cost (1, -0.2, -1, 0)", objectives.utility(tp=1.0, fp=-0.2, fn=-1.0, tn=0.0), "micro"),
)

_DATASET, _METHODS, _DATA_DIR, _OUTPUT = paper.define_run_flags()
flags.adopt_module_key_flags(paper)  # --help lists them


def _shown(name: str, value: float) -> str:
    """Bounded scores in percent (as run_method gives them), a cost as the total gain."""
    return f"{value / 100:.1f}" if name.startswith("cost") else f"{value:.2f}"


def main(argv: list[str]) -> None:
    del argv
    datasets, methods, folder = paper.checked_run_flags(_DATASET, _METHODS, _DATA_DIR, _OUTPUT)
    header = "| dataset | method | " + " | ".join(name for name, _, _ in OBJECTIVES) + " |"
    lines = [header, "|---|---|" + "---:|" * len(OBJECTIVES)]
    report = {}
    for dataset in datasets:
        benchmark = paper.load_benchmark(dataset, folder)
        jax.clear_caches()  # each benchmark compiles for its own shapes
        for method in methods:
            cells = []
            for name, objective, average in OBJECTIVES:
                hyperparameters = paper.benchmark_hyperparameters(
                    dataset, method, {"objective": objective, "average": average}
                )
                result = paper.run_method(benchmark, method, hyperparameters)
                logging.info("%s %s %s: eval %.2f", dataset, method, name, result.eval_f1)
                cells.append(_shown(name, result.eval_f1))
                report.setdefault(dataset, {}).setdefault(method, {})[name] = {
                    "eval": result.eval_f1,
                    "valid": result.valid_f1,
                    "seconds": round(result.seconds, 3),
                }
            lines.append(f"| {dataset} | {method} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if _OUTPUT.value:
        write_json_atomic(_OUTPUT.value, report, "output")


if __name__ == "__main__":
    runner.run(main)
