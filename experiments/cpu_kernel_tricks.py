"""What each trick of the ``cpu`` kernels (``jaxthresh.core.counting``,
``jaxthresh.methods.sgl_kernels``) buys on this backend, measured alone: each pair computes
the same thing the plain way and the tricked way, on the same scores, jitted and warm.

    python experiments/cpu_kernel_tricks.py --rows=20371 --classes=527

Prints, per trick, the median milliseconds of each way (over --repeats runs) and their
ratio; then one SGLThresh epoch with each kernel (``cpu``, ``generic``, ``autodiff``):
the time of a 120-epoch fit less that of a 20-epoch one, over 100.
Written for XLA's CPU backend; on another backend the ratios show what the tricks cost there.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import paper
from absl import flags

import jaxthresh
from jaxthresh.cli import runner
from jaxthresh.core import batching, counting, cuts, reductions, validation
from jaxthresh.core.surrogate import sigmoid_derivative_factor

_ROWS = flags.DEFINE_integer("rows", 20371, "Rows.")
_CLASSES = flags.DEFINE_integer("classes", 527, "Classes.")
_REPEATS = flags.DEFINE_integer("repeats", 9, "Warm runs; the median is reported.")


def _milliseconds(function, *args, jit: bool = True) -> float:
    if jit:
        function = jax.jit(function)
    jax.block_until_ready(function(*args))
    times = []
    for _ in range(_REPEATS.value):
        start = time.perf_counter()
        jax.block_until_ready(function(*args))
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def _compare(name: str, plain, tricked, *args, tricked_args=None) -> None:
    plain_ms = _milliseconds(plain, *args)
    tricked_ms = _milliseconds(tricked, *(args if tricked_args is None else tricked_args))
    print(
        f"| {name} | {plain_ms:.2f} | {tricked_ms:.2f} | {plain_ms / tricked_ms:.2f} |",
        flush=True,
    )


def main(argv: list[str]) -> None:
    del argv
    scores, labels = paper.synthetic_problem(
        jax.random.key(0), rows=_ROWS.value, classes=_CLASSES.value
    )
    classes = _CLASSES.value
    thresholds = jnp.full((classes,), 0.3, jnp.float32)
    slopes = jnp.full((classes,), 50.0, jnp.float32)
    tp_weight = jnp.full((classes,), 0.2, jnp.float32)
    pp_weight = jnp.full((classes,), -0.1, jnp.float32)
    kept = jnp.arange(_ROWS.value) % 3 != 0  # a fold's rows
    y = labels.astype(jnp.float32)
    floor = _milliseconds(lambda s: jnp.sum(s, axis=0), scores)
    print(f"floor (one column sum of the scores): {floor:.2f} ms\n")
    print("| trick | plain ms | tricked ms | plain / tricked |")
    print("|---|---:|---:|---:|")

    _compare(
        "step: comparison vs maxima only",
        lambda s, t: jnp.sum((s > t).astype(jnp.float32), axis=0),
        lambda s, t: jnp.sum(counting.step(s - t), axis=0),
        scores,
        thresholds,
    )
    masked = jnp.where(kept[:, None], scores, counting.LEFT_OUT)
    _compare(
        "left-out rows: row weight vs -inf score",
        lambda s, w, t: jnp.sum(counting.step(s - t) * w[:, None], axis=0),
        lambda s, w, t: jnp.sum(counting.step(s - t), axis=0),
        *(scores, kept.astype(jnp.float32), thresholds),
    )
    _compare(
        "left-out rows: same, with -inf given",
        lambda s, w, t: jnp.sum(counting.step(s - t) * w[:, None], axis=0),
        lambda s, w, t: jnp.sum(counting.step(masked - t), axis=0),
        *(scores, kept.astype(jnp.float32), thresholds),
    )

    def two_sums(separate):
        def threshold_sum(s, y, t, a):
            return jnp.sum(sigmoid_derivative_factor(s - t, a) * (tp_weight * y + pp_weight), 0)

        def slope_sum(s, y, t, a):
            x = s - t
            return jnp.sum(x * sigmoid_derivative_factor(x, a) * (tp_weight * y + pp_weight), 0)

        if separate:
            return lambda *a: counting.separately([threshold_sum, slope_sum], *a)
        return lambda *a: [threshold_sum(*a), slope_sum(*a)]

    _compare(
        "gradient sums: together vs separate passes",
        two_sums(False),
        two_sums(True),
        scores,
        y,
        thresholds,
        slopes,
    )
    _compare(
        "surrogate factor: sig(z) sig(-z) vs e / (1 + e)**2",
        lambda s, t, a: jnp.sum(jax.nn.sigmoid(a * (s - t)) * jax.nn.sigmoid(-a * (s - t)), 0),
        lambda s, t, a: jnp.sum(sigmoid_derivative_factor(s - t, a), 0),
        scores,
        thresholds,
        slopes,
    )
    positive = labels & kept[:, None]
    _compare(
        "count of a bool matrix: to float32 vs through uint8",
        lambda m: jnp.sum(m.astype(jnp.float32), axis=0),
        reductions.count_true,
        positive,
    )
    _compare(
        "highest score: int32 order keys vs float max (exact fallback)",
        lambda s: jnp.max(cuts.order_keys(s), axis=0),
        lambda s: cuts.highest_of(s, axis=0),
        scores,
    )
    _compare(
        "first maximum: argmax vs two float maxima",
        lambda s: jnp.argmax(s, axis=0),
        lambda s: reductions.argmax_first(s, axis=0),
        scores,
    )
    rows = validation.Rows(scores, labels, kept, total_positives=int(jnp.sum(positive)))
    as_matrix = counting.masked_scores(rows)
    as_list = counting.masked_scores(rows, rows.pooled_positive_slots)

    def factor(s, t, a):
        return sigmoid_derivative_factor(s - t, a)

    _compare(
        "positive entries' gradient sum: masked matrix vs list",
        lambda m, t, a: counting.positive_sums(m, [factor], t, a)[0],
        lambda m, t, a: counting.positive_sums(m, [factor], t, a)[0],
        as_matrix,
        thresholds,
        slopes,
        tricked_args=(as_list, thresholds, slopes),
    )
    folds = jnp.stack([jnp.arange(_ROWS.value) % 3 != f for f in range(3)])

    def fold_counts(fold, s, t):
        return jnp.sum(counting.step(jnp.where(fold[:, None], s, counting.LEFT_OUT) - t), 0)

    _compare(
        "3 folds: vmap vs one at a time",
        lambda f, s, t: jax.vmap(fold_counts, in_axes=(0, None, None))(f, s, t),
        lambda f, s, t: jax.vmap(batching.one_at_a_time(fold_counts), in_axes=(0, None, None))(
            f, s, t
        ),
        folds,
        scores,
        thresholds,
    )

    print("\n| SGLThresh kernel (concrete inputs) | ms per epoch | ratio to the floor |")
    print("|---|---:|---:|")
    for kernel in ("cpu", "generic", "autodiff"):
        # Per epoch: the difference between fits of 120 and 20 epochs, over 100; called
        # as users call it, on concrete arrays (which carry the bounds the kernels use).
        seconds = [
            _milliseconds(
                functools.partial(
                    lambda s, y, epochs, kernel: (
                        jaxthresh.fit_sgl(s, y, init=0.3, epochs=epochs, kernel=kernel).thresholds
                    ),
                    epochs=epochs,
                    kernel=kernel,
                ),
                scores,
                labels,
                jit=False,
            )
            for epochs in (20, 120)
        ]
        ms = (seconds[1] - seconds[0]) / 100
        print(f"| {kernel} | {ms:.2f} | {ms / floor:.1f} |", flush=True)


if __name__ == "__main__":
    runner.run(main)
