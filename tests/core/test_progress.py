import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxthresh
from jaxthresh.core import progress

STEPS = 100


def _new_loop():
    """A scan of STEPS steps that reports its progress, as the fitting loops do; a new
    function each time, so that no trace or compilation cache hides how it is traced."""

    def loop(scores):
        def body(total, step):
            total = total + scores[step % scores.shape[0]]
            progress.report("test loop", step + 1, STEPS, total)
            return total, None

        return jax.lax.scan(body, jnp.float32(0.0), jnp.arange(STEPS))[0]

    return loop


SCORES = jnp.linspace(0.0, 1.0, 7)


@pytest.fixture
def logged(monkeypatch, caplog):
    """Every progress line (no throttling), as ``(label, step, total)``."""
    monkeypatch.setattr(progress, "INTERVAL_SECONDS", 0.0)
    monkeypatch.setattr(progress, "_last_logged", {})
    caplog.set_level(logging.INFO, logger="absl")

    def lines():
        return [r.getMessage() for r in caplog.records if r.name == "absl"]

    return lines


def _jaxpr(enabled):
    if enabled is None:
        return str(jax.make_jaxpr(_new_loop())(SCORES))
    with progress.reporting(enabled):
        return str(jax.make_jaxpr(_new_loop())(SCORES))


def test_report_compiles_a_callback_only_inside_reporting_true():
    assert "callback" in _jaxpr(True)
    assert "callback" not in _jaxpr(False)
    assert "callback" not in _jaxpr(None)  # the default: no reports


def test_reporting_is_restored_after_the_context():
    with progress.reporting(True):
        with progress.reporting(False):
            assert "callback" not in str(jax.make_jaxpr(_new_loop())(SCORES))
        assert "callback" in str(jax.make_jaxpr(_new_loop())(SCORES))
    assert "callback" not in str(jax.make_jaxpr(_new_loop())(SCORES))


def test_reports_reach_the_host_about_twenty_times(logged):
    with progress.reporting(True):
        loop = jax.jit(_new_loop())
        total = loop(SCORES)
    jax.effects_barrier()
    assert float(total) == pytest.approx(float(sum(SCORES[i % 7] for i in range(STEPS))), 1e-5)
    lines = logged()
    every = STEPS // progress.UPDATES
    steps = sorted(int(line.split("step ")[1].split("/")[0]) for line in lines)
    assert steps == list(range(every, STEPS + 1, every))
    assert all(
        line.startswith("test loop: step ") and f"/{STEPS}, score " in line for line in lines
    )


def test_a_loop_traced_outside_reporting_logs_nothing(logged):
    total = jax.jit(_new_loop())(SCORES)
    jax.effects_barrier()
    assert np.isfinite(float(total))
    assert logged() == []


def test_log_progress_throttles_per_label(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="absl")
    monkeypatch.setattr(progress, "_last_logged", {})
    now = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    progress.log_progress("a", 1, 10, np.float32(0.5))
    progress.log_progress("a", 2, 10, np.float32(0.6))  # too soon: dropped
    progress.log_progress("b", 2, 10, np.array([0.2, 0.4]))  # another label: logged
    now[0] += progress.INTERVAL_SECONDS
    progress.log_progress("a", 3, 10, np.float32(0.7))
    now[0] += progress.INTERVAL_SECONDS / 2
    progress.log_progress("a", np.array([4, 4]), np.array([10, 10]), np.float32(0.8))
    messages = [r.getMessage() for r in caplog.records if r.name == "absl"]
    assert messages == [
        "a: step 1/10, score 0.5000",
        "b: step 2/10, score 0.3000",
        "a: step 3/10, score 0.7000",
    ]


@pytest.mark.filterwarnings("ignore::jaxthresh.core.diagnostics.FitWarning")
def test_fits_report_only_when_asked(logged):
    scores = np.linspace(0.05, 0.95, 24, dtype=np.float32).reshape(12, 2)
    labels = scores > 0.5
    jaxthresh.fit_sgl(scores, labels, init=0.5, epochs=40)
    jax.effects_barrier()
    assert logged() == []
    jaxthresh.fit_sgl(scores, labels, init=0.5, epochs=40, progress=True)
    jax.effects_barrier()
    lines = logged()
    assert lines and all(line.startswith("sgl: step ") for line in lines)
    assert lines[-1].startswith("sgl: step 40/40")
