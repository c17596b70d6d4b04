"""Speed of one SGLThresh fit on synthetic scores, against the cost of reading them once.

    python experiments/benchmark.py --rows=20371 --classes=527 --epochs=100
    python experiments/benchmark.py --path=histogram --bins=256 --output=bench.json

Prints and saves: compile seconds, warm fit seconds (median of --repeats runs), milliseconds
per epoch, and the ratio of the per-epoch time to a floor measured in the same run (one
jitted reduction over the same scores array). Runs on a GPU unchanged when JAX has one.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

import jaxthresh
from jaxthresh import _cli, benchmarks
from jaxthresh.io import check_writable, write_json_atomic

_ROWS = flags.DEFINE_integer("rows", 20371, "Rows (clips).")
_CLASSES = flags.DEFINE_integer("classes", 527, "Classes.")
_EPOCHS = flags.DEFINE_integer("epochs", 100, "Epochs of the fit.")
_DTYPE = flags.DEFINE_enum("dtype", "float32", ["float32", "float16", "bfloat16"], "Scores.")
_PATH = flags.DEFINE_enum("path", "exact", ["exact", "histogram"], "SGLThresh path.")
_BINS = flags.DEFINE_integer("bins", 256, "Bins per class on the histogram path.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Warm runs; the median is reported.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the synthetic data.")
_OUTPUT = flags.DEFINE_string("output", None, "Write the figures as JSON to this path.")


def _seconds(call) -> float:
    start = time.perf_counter()
    jax.block_until_ready(call())
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    del argv
    if _OUTPUT.value:
        check_writable(_OUTPUT.value)
    for flag in (_ROWS, _CLASSES, _EPOCHS, _REPEATS, _BINS):
        if flag.value < 1:
            raise ValueError(f"{flag.name}: must be >= 1, got {flag.value}")
    scores, labels = benchmarks.synthetic_problem(
        jax.random.key(_SEED.value),
        rows=_ROWS.value,
        classes=_CLASSES.value,
        dtype=jnp.dtype(_DTYPE.value),
    )
    scores = scores.astype(jnp.float32)  # what the library fits on
    weights = jnp.ones(_ROWS.value, jnp.int32)
    arrays, static = jaxthresh.sgl.sgl_hyperparameters(
        _CLASSES.value,
        init=0.3,
        epochs=_EPOCHS.value,
        bins=_BINS.value if _PATH.value == "histogram" else None,
    )

    def fit():
        return jaxthresh.sgl_fit_weighted(scores, labels, weights, **arrays, **static)

    floor = jax.jit(lambda s: jnp.sum(s, axis=0))
    first = _seconds(fit)
    warm = [_seconds(fit) for _ in range(_REPEATS.value)]
    _seconds(lambda: floor(scores))
    floors = [_seconds(lambda: floor(scores)) for _ in range(max(_REPEATS.value, 5))]
    fit_seconds, floor_seconds = float(np.median(warm)), float(np.median(floors))
    epoch_ms = 1000 * fit_seconds / _EPOCHS.value
    figures = {
        "device": str(jax.devices()[0]),
        "rows": _ROWS.value,
        "classes": _CLASSES.value,
        "epochs": _EPOCHS.value,
        "dtype": _DTYPE.value,
        "path": _PATH.value,
        "bins": _BINS.value if _PATH.value == "histogram" else None,
        "compile_seconds": round(first - fit_seconds, 4),
        "fit_seconds_median": round(fit_seconds, 4),
        "fit_seconds_runs": [round(t, 4) for t in warm],
        "ms_per_epoch": round(epoch_ms, 4),
        "floor_ms": round(1000 * floor_seconds, 4),
        "epoch_to_floor_ratio": round(epoch_ms / (1000 * floor_seconds), 2),
    }
    for name, value in figures.items():
        print(f"{name}: {value}")
    if _OUTPUT.value:
        write_json_atomic(_OUTPUT.value, figures)


if __name__ == "__main__":
    _cli.run(main)
