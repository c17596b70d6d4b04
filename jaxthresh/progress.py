"""Progress of long fits, reported through absl logging from inside compiled loops.

:func:`report` is called inside ``lax.scan`` bodies; it sends the step to the host with
``jax.debug.callback``, where :func:`log_progress` writes at most one line every
:data:`INTERVAL_SECONDS` per label. Reports are off unless :func:`enable` is called (the
command-line tools do), so library calls compile no callbacks. The switch and the
throttle's clock are the only state, and they only decide whether a line is logged.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

INTERVAL_SECONDS = 2.0
UPDATES = 20
_last_logged: dict[str, float] = {}
_enabled = [False]


def enable(on: bool = True) -> None:
    """Turns progress reports on (the command-line tools do) or off (the default: library
    calls then compile no callbacks at all). It takes effect for functions compiled after
    the call."""
    _enabled[0] = bool(on)


def log_progress(label: str, step, total, score) -> None:
    """Host side: logs ``label: step/total, score`` unless one was logged too recently."""
    step, total = int(np.max(step)), int(np.max(total))
    now = time.monotonic()
    if now - _last_logged.get(label, -np.inf) < INTERVAL_SECONDS:
        return  # also the last step: under vmap every batch element reports it
    _last_logged[label] = now
    logging.info("%s: step %d/%d, F-beta %.4f", label, step, total, float(np.mean(score)))


def report(label: str, step: jax.Array, total: int, score: jax.Array) -> None:
    """Inside jit: reports that ``step`` (1-based, not batched) of ``total`` reached ``score``.

    Only every ``total // UPDATES``-th step and the last one reach the host, so a fast loop
    pays for at most about :data:`UPDATES` callbacks.
    """
    if not _enabled[0]:
        return
    every = max(1, total // UPDATES)

    def send(operands):
        jax.debug.callback(functools.partial(log_progress, label), *operands)

    jax.lax.cond(
        (step % every == 0) | (step == total),
        send,
        lambda operands: None,
        (step, jnp.int32(total), score),
    )
