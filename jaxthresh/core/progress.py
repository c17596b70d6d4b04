"""Progress of long fits, reported through absl logging from inside compiled loops.

:func:`report` is called inside ``lax.scan`` bodies. Whether it compiles a callback is
decided while the entry point that asked for progress is traced (:func:`reporting`, set
from a static ``progress`` argument, so compiled functions with and without reports are
cached apart). The callback sends the step to the host every ~1/20 of the steps, where
:func:`log_progress` writes at most one line every :data:`INTERVAL_SECONDS` per label.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

INTERVAL_SECONDS = 2.0
UPDATES = 20
_REPORTING = contextvars.ContextVar("jaxthresh_progress", default=False)
_last_logged: dict[str, float] = {}


@contextlib.contextmanager
def reporting(enabled: bool):
    """While tracing inside this context, :func:`report` compiles progress callbacks
    (``enabled``) or nothing."""
    token = _REPORTING.set(bool(enabled))
    try:
        yield
    finally:
        _REPORTING.reset(token)


def log_progress(label: str, step, total, score) -> None:
    """Host side: logs ``label: step/total, score`` unless one was logged too recently."""
    step, total = int(np.max(step)), int(np.max(total))
    now = time.monotonic()
    if now - _last_logged.get(label, -np.inf) < INTERVAL_SECONDS:
        return  # also the last step: under vmap every batch element reports it
    _last_logged[label] = now
    logging.info("%s: step %d/%d, score %.4f", label, step, total, float(np.mean(score)))


def report(label: str, step: jax.Array, total: int, score: jax.Array) -> None:
    """Inside a traced loop: reports that ``step`` (1-based) of ``total`` reached ``score``.

    Only every ``total // UPDATES``-th step and the last one reach the host, so a fast loop
    pays for at most about :data:`UPDATES` callbacks.
    """
    if not _REPORTING.get():
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
