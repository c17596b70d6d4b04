"""How XLA on this machine handles the sums an SGLThresh epoch needs: one reduction of the
surrogate derivative over the scores, against the six an epoch needs written together, and
the four sums ``jaxthresh.fused`` computes instead, each in its own ``lax.switch`` branch.

    python experiments/reduction_fusion.py --rows=20371 --classes=527

Prints the median milliseconds of each (jitted, warm). Written together, the sums share
intermediates that XLA on CPU writes to memory before reducing; in separate branches each
stays one vectorized pass.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

from jaxthresh import _cli, benchmarks, fused

_ROWS = flags.DEFINE_integer("rows", 20371, "Rows.")
_CLASSES = flags.DEFINE_integer("classes", 527, "Classes.")
_REPEATS = flags.DEFINE_integer("repeats", 7, "Warm runs; the median is reported.")


def _derivative(scores, thresholds, slopes):
    x = scores - thresholds
    e = jnp.exp(-jnp.abs(slopes * x))
    return x, e / ((1 + e) * (1 + e))


@jax.jit
def one_sum(scores, labels, thresholds, slopes):
    return jnp.sum(_derivative(scores, thresholds, slopes)[1], axis=0)


@jax.jit
def six_sums(scores, labels, thresholds, slopes):
    x, g = _derivative(scores, thresholds, slopes)
    predicted = jnp.where(x > 0, 1.0, 0.0)
    positive = labels.astype(jnp.float32)
    return (
        jnp.sum(predicted * positive, axis=0),
        jnp.sum(predicted, axis=0),
        jnp.sum(g * positive, axis=0),
        jnp.sum(g, axis=0),
        jnp.sum(g * x * positive, axis=0),
        jnp.sum(g * x, axis=0),
    )


@jax.jit
def fused_epoch_sums(scores, positive_scores, labels, thresholds, slopes):
    """The four sums of one fused epoch (jaxthresh.fused): counts, then the gradient."""
    true_positives, predicted = fused.fused_counts(scores, positive_scores, thresholds)
    weight = 1e-6 * (true_positives - predicted).astype(jnp.float32)  # keeps the order
    return fused.fused_gradient(
        scores, labels, thresholds, slopes, weight, -weight, learn_slope=True
    )


def _median_ms(function, *arguments) -> float:
    jax.block_until_ready(function(*arguments))
    times = []
    for _ in range(_REPEATS.value):
        start = time.perf_counter()
        jax.block_until_ready(function(*arguments))
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main(argv: list[str]) -> None:
    del argv
    scores, labels = benchmarks.synthetic_problem(
        jax.random.key(0), rows=_ROWS.value, classes=_CLASSES.value
    )
    thresholds = jnp.full((_CLASSES.value,), 0.3)
    slopes = jnp.full((_CLASSES.value,), 50.0)
    one = _median_ms(one_sum, scores, labels, thresholds, slopes)
    six = _median_ms(six_sums, scores, labels, thresholds, slopes)
    masked, positive_scores = fused.masked_scores(scores, labels, jnp.ones(_ROWS.value, jnp.int32))
    apart = _median_ms(
        fused_epoch_sums, masked, positive_scores, labels.astype(jnp.float32), thresholds, slopes
    )
    print(f"one reduction: {one:.2f} ms")
    print(f"six reductions together: {six:.2f} ms ({six / one:.1f} x one)")
    print(f"the four sums of a fused epoch: {apart:.2f} ms ({apart / one:.1f} x one)")


if __name__ == "__main__":
    _cli.run(main, report_progress=False)
