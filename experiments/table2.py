"""Reproduces Table 2 of the SGLThresh paper: micro-F1 of each method on each benchmark.

    python experiments/table2.py                                   # everything
    python experiments/table2.py --dataset=dcase2017 --methods=sgl --output=table2.json

DCASE benchmarks: thresholds are fitted on the valid subset and scored on eval. AudioSet:
3-fold cross-validation (one compiled call), figures are means over folds. Every method's
hyperparameters have a flag (``--help``); a flag given applies to the methods that take it,
over the paper's settings.
"""

from __future__ import annotations

import jax
import paper
from absl import flags, logging

from jaxthresh.cli import method_flags, plots, runner
from jaxthresh.cli.files import check_writable, float32_list, write_json_atomic

_DATASET, _METHODS, _DATA_DIR, _OUTPUT = paper.define_run_flags()
flags.adopt_module_key_flags(paper)  # --help lists them
_PLOT_DIR = flags.DEFINE_string(
    "plot_dir", None, "Write PNG plots here (needs the plot extra: pip install '.[plot]')."
)
method_flags.define()  # every hyperparameter; --seed also shuffles AudioSet's folds


def main(argv: list[str]) -> None:
    del argv
    if _OUTPUT.value:
        check_writable(_OUTPUT.value)
    if _PLOT_DIR.value:
        plots.require_matplotlib()
    given = method_flags.given()
    seed = method_flags.seed(given.get("seed", 0))
    datasets = paper.check_datasets(_DATASET.value)
    methods = paper.check_methods(_METHODS.value)
    folder = paper.resolve_data_dir(_DATA_DIR.value, paper.DEFAULT_DATA_DIR)
    loaded = [paper.load_benchmark(name, folder) for name in datasets]
    overrides = {
        method: method_flags.chosen_hyperparameters(method, given, strict=False)
        for method in methods
    }

    results, report = {}, {}
    for benchmark, method, hyperparameters in paper.plan_runs(loaded, methods, overrides):
        if benchmark.name not in results:
            jax.clear_caches()  # each benchmark compiles for its own shapes
        result = paper.run_method(benchmark, method, hyperparameters, seed=seed, progress=True)
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
            "hyperparameters": result.hyperparameters,
            "paper": paper.paper_figures(benchmark.name, method, result.average),
        }
    average = given.get("average", "micro")
    print(paper.markdown_table(results, average))
    if _PLOT_DIR.value:
        for benchmark in loaded:
            paper.plot_benchmark(benchmark, results[benchmark.name], _PLOT_DIR.value)
    if _OUTPUT.value:
        write_json_atomic(_OUTPUT.value, report)


if __name__ == "__main__":
    runner.run(main)
