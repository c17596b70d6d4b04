"""What "at least one label per row" does to fitted thresholds' eval F1 on the benchmarks.

    python experiments/decoding.py                                   # everything
    python experiments/decoding.py --dataset=dcase2017 --methods=exact --max_labels=3

Thresholds are fitted as in Table 2 (``paper.run_method``, the paper's settings, each
method's objective: micro-F1) and applied to the eval rows twice: as they are
(``scores > thresholds``), and decoded with ``jaxthresh.apply_thresholds(...,
min_labels=--min_labels, max_labels=--max_labels)``: a row with no predicted label gets
its class of largest ``score - threshold``. DCASE benchmarks: fitted on valid, scored on
eval. AudioSet: 3-fold cross-validation with the shuffle of ``run_method`` (fitted on two
folds, scored on the held-out one), means over the folds. Reported: eval micro- and
macro-F1 and the share of eval rows without a predicted label, before and after the rule,
the share of eval rows without a true label (where the rule can only add a false
positive), and the share of the labels the rule changed (added or dropped) that it got
right.
"""

from __future__ import annotations

import jax
import numpy as np
import paper
from absl import flags, logging

import jaxthresh
from jaxthresh.cli import runner
from jaxthresh.cli.files import write_json_atomic
from jaxthresh.core.thresholds import decoding_rules

_DATASET, _METHODS, _DATA_DIR, _OUTPUT = paper.define_run_flags()
flags.adopt_module_key_flags(paper)  # --help lists them
flags.FLAGS.set_default("methods", ["exact", "sgl"])
_MIN_LABELS = flags.DEFINE_integer("min_labels", 1, "At least this many labels per row.")
_MAX_LABELS = flags.DEFINE_integer("max_labels", None, "At most this many labels per row.")

#: The figures of each run, in percent: before and after the rule.
FIGURES = ("micro_f1", "macro_f1", "rows_without_prediction")


def heldout_sets(benchmark: paper.Benchmark, method: str, hyperparameters: dict) -> list:
    """``[(thresholds, scores, labels)]`` the fitted thresholds are scored on: the eval
    rows, or each held-out fold (the folds of ``paper.run_method``: seed 0, 3 folds)."""
    if benchmark.eval_scores is not None:
        fitted = paper.run_method(benchmark, method, hyperparameters)
        return [(fitted.thresholds, benchmark.eval_scores, benchmark.eval_labels)]
    scores, labels = benchmark.valid_scores, benchmark.valid_labels
    cv = jaxthresh.cross_validate(
        scores, labels, method, n_folds=3, fold_key=jax.random.key(0), **hyperparameters
    )
    ids = np.asarray(cv.fold_ids)
    thresholds = np.asarray(cv.thresholds)
    return [(thresholds[f], scores[ids == f], labels[ids == f]) for f in range(len(thresholds))]


def figures(thresholds, scores, labels, min_labels: int, max_labels: int | None) -> dict:
    """Micro- and macro-F1 and the rows without a predicted label (percent), before and
    after the rule."""
    result = {"rows_without_label": 100 * float(np.mean(~labels.any(axis=1)))}
    before = jaxthresh.apply_thresholds(scores, thresholds)
    after = jaxthresh.apply_thresholds(
        scores, thresholds, min_labels=min_labels, max_labels=max_labels
    )
    changed = before != after
    result["changed_labels_correct"] = 100 * float(np.mean(labels[changed] == after[changed]))
    for when, predictions in (("before", before), ("after", after)):
        result[f"micro_f1_{when}"] = 100 * float(jaxthresh.f1_score(labels, predictions))
        result[f"macro_f1_{when}"] = 100 * float(
            jaxthresh.f1_score(labels, predictions, average="macro")
        )
        empty = 100 * float(np.mean(~predictions.any(axis=1)))
        result[f"rows_without_prediction_{when}"] = empty
    return result


def markdown(report: dict, rule: str) -> str:
    lines = [
        f"| dataset | method | micro-F1 | micro-F1 {rule} | macro-F1 | macro-F1 {rule} "
        f"| rows without a prediction | with {rule} | rows without a true label "
        "| labels the rule changed that are right |",
        "|---|---|" + "---:|" * 8,
    ]
    for dataset, by_method in report.items():
        for method, r in by_method.items():
            cells = [
                f"{r[f'{name}_{when}']:.2f}" for name in FIGURES for when in ("before", "after")
            ]
            cells += [f"{r['rows_without_label']:.2f}", f"{r['changed_labels_correct']:.1f}"]
            lines.append(f"| {dataset} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    del argv
    datasets, methods, folder = paper.checked_run_flags(_DATASET, _METHODS, _DATA_DIR, _OUTPUT)
    min_labels, max_labels = _MIN_LABELS.value, _MAX_LABELS.value
    report = {}
    for dataset in datasets:
        benchmark = paper.load_benchmark(dataset, folder)
        decoding_rules(min_labels, max_labels, benchmark.valid_scores.shape[1])  # checks
        jax.clear_caches()  # each benchmark compiles for its own shapes
        for method in methods:
            hyperparameters = paper.benchmark_hyperparameters(dataset, method, {})
            runs = [
                figures(*held_out, min_labels, max_labels)
                for held_out in heldout_sets(benchmark, method, hyperparameters)
            ]
            mean = {name: float(np.mean([run[name] for run in runs])) for name in runs[0]}
            logging.info("%s %s: %s", dataset, method, mean)
            report.setdefault(dataset, {})[method] = mean
    rule = f"min_labels={min_labels}" + ("" if max_labels is None else f", max={max_labels}")
    print(markdown(report, rule))
    print("\nPercent; eval rows (AudioSet: held-out folds, means over 3 folds).")
    if _OUTPUT.value:
        document = {"min_labels": min_labels, "max_labels": max_labels, "results": report}
        write_json_atomic(_OUTPUT.value, document, "output")


if __name__ == "__main__":
    runner.run(main)
