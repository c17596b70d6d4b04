"""Bagging as a regularizer: do bagged thresholds (the per-class median of bootstrap fits)
score better on unseen data than the plain fit?

    python experiments/bagging.py                      # exact and sgl, every benchmark
    python experiments/bagging.py --dataset=dcase2017 --methods=exact --n_resamples=200

DCASE benchmarks: fitted (plain, and ``jaxthresh.bootstrap`` of ``--n_resamples``
resamples of the valid rows, bagged) on the valid subset, scored on eval; AudioSet:
3-fold cross-validation (the same folds as Table 2: fitted on two folds, its resamples
drawn from those rows alone, scored on the third; means over folds). Scores are the
method's objective (micro-F1 unless ``--objective``/``--average`` say otherwise), in
percent. Hyperparameters are the paper's settings (Table 2), else the method's defaults.
Also prints each run's seconds and the mean out-of-bag score of the resamples.
"""

from __future__ import annotations

import time

import jax
import numpy as np
import paper
from absl import flags

import jaxthresh
from jaxthresh.cli import runner
from jaxthresh.cli.files import write_json_atomic
from jaxthresh.core import folds as folding
from jaxthresh.methods import configure

_DATASET, _METHODS, _DATA_DIR, _OUTPUT = paper.define_run_flags()
flags.adopt_module_key_flags(paper)
_N_RESAMPLES = flags.DEFINE_integer("n_resamples", 50, "Bootstrap resamples per fit.")
_OBJECTIVE = flags.DEFINE_string("objective", "f1", "The objective fitted and scored.")
_AVERAGE = flags.DEFINE_enum(
    "average", "micro", ["micro", "macro", "weighted"], "Its average over classes."
)
_SEED = flags.DEFINE_integer("seed", 0, "Key of the folds and of the resamples.")


def _score(config, scores, labels, thresholds, sample_weight=None) -> float:
    predictions = jaxthresh.apply_thresholds(scores, np.asarray(thresholds))
    value = jaxthresh.score_predictions(
        labels,
        predictions,
        sample_weight=sample_weight,
        objective=config.objective,
        average=config.average,
    )
    return 100.0 * float(value)


def _plain_and_bagged(scores, labels, method, hyperparameters, weights, key):
    """The plain fit and the bootstrap of the rows ``weights`` keeps: (plain thresholds,
    bagged thresholds, mean out-of-bag score)."""
    plain = jaxthresh.fit(method, scores, labels, weights, **hyperparameters).thresholds
    result = jaxthresh.bootstrap(
        scores,
        labels,
        method,
        weights,
        n_resamples=_N_RESAMPLES.value,
        key=key,
        **hyperparameters,
    )
    return plain, result.bagged(), float(np.nanmean(np.asarray(result.oob_score)))


def _run(benchmark, method, hyperparameters) -> dict:
    config = configure(method, benchmark.valid_scores.shape[1], **hyperparameters)
    key = jax.random.key(_SEED.value)
    start = time.perf_counter()
    if benchmark.eval_scores is not None:
        plain, bagged, oob = _plain_and_bagged(
            benchmark.valid_scores, benchmark.valid_labels, method, hyperparameters, None, key
        )
        scores = [
            _score(config, benchmark.eval_scores, benchmark.eval_labels, t) for t in (plain, bagged)
        ]
        oobs = [oob]
    else:  # the folds of paper.run_method's cross-validation
        ids = np.asarray(
            folding.fold_ids(key, benchmark.valid_scores.shape[0], 3)  # same key: same folds
        )
        per_fold, oobs = [], []
        for fold in range(3):
            fitting = ids != fold
            plain, bagged, oob = _plain_and_bagged(
                benchmark.valid_scores,
                benchmark.valid_labels,
                method,
                hyperparameters,
                fitting,
                jax.random.fold_in(key, fold),
            )
            per_fold.append(
                [
                    _score(config, benchmark.valid_scores, benchmark.valid_labels, t, ~fitting)
                    for t in (plain, bagged)
                ]
            )
            oobs.append(oob)
        scores = list(np.mean(per_fold, axis=0))
    return {
        "plain": round(scores[0], 2),
        "bagged": round(scores[1], 2),
        "gain": round(scores[1] - scores[0], 2),
        "oob": round(100 * float(np.mean(oobs)), 2),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str]) -> None:
    del argv
    if _N_RESAMPLES.value < 2:
        raise ValueError(f"n_resamples: must be at least 2, got {_N_RESAMPLES.value}")
    datasets, methods, folder = paper.checked_run_flags(_DATASET, _METHODS, _DATA_DIR, _OUTPUT)
    lines = [
        "| dataset | method | plain | bagged | bagged - plain | mean out-of-bag | seconds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    report = {}
    for dataset in datasets:
        benchmark = paper.load_benchmark(dataset, folder)
        jax.clear_caches()  # each benchmark compiles for its own shapes
        for method in methods:
            hyperparameters = paper.benchmark_hyperparameters(
                dataset, method, {"objective": _OBJECTIVE.value, "average": _AVERAGE.value}
            )
            row = _run(benchmark, method, hyperparameters)
            report.setdefault(dataset, {})[method] = row
            lines.append(
                f"| {dataset} | {method} | {row['plain']:.2f} | {row['bagged']:.2f} | "
                f"{row['gain']:+.2f} | {row['oob']:.2f} | {row['seconds']:.0f} |"
            )
            print(lines[-1], flush=True)
    print("\n".join(lines))
    if _OUTPUT.value:
        write_json_atomic(_OUTPUT.value, {"n_resamples": _N_RESAMPLES.value, "runs": report})


if __name__ == "__main__":
    flags.FLAGS.set_default("methods", ["exact", "sgl"])
    runner.run(main)
