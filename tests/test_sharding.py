"""Rows sharded over 4 forced host devices give the thresholds of one device (the fused
default path, the histogram path and the exact searches)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jaxthresh
from jaxthresh import sharding
from tests.conftest import random_problem

SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np, jaxthresh
    from jaxthresh import sharding
    from jaxthresh.methods import METHODS
    from tests.conftest import random_problem

    assert len(jax.devices()) == 4, jax.devices()
    scores, labels = random_problem(61, rows=203, classes=5)  # 203: padding needed
    sharded = sharding.shard_rows(scores, labels)
    assert sharded.scores.shape == (204, 5)
    assert len(sharded.scores.sharding.device_set) == 4
    for method, hyper in [("sgl", {"init": 0.4, "epochs": 30}), ("exact", {}),
                          ("numerical", {"init": 0.4, "epochs": 20}), ("default", {}),
                          ("sgl", {"init": 0.4, "epochs": 30, "bins": 64}),
                          ("exact", {"bins": 64})]:
        registered = METHODS[method]
        arrays, static = registered.hyperparameters(5, **hyper)
        spread = registered.fit_weighted(*sharded, **arrays, **static)
        single = jaxthresh.fit(method, scores, labels, **hyper)
        np.testing.assert_allclose(spread.thresholds, single.thresholds, atol=1e-5)
        print(method, "ok")
    """
)


def test_four_devices_equal_one():
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    methods = ["sgl", "exact", "numerical", "default", "sgl", "exact"]
    assert result.stdout.split() == [word for method in methods for word in (method, "ok")]


def test_padding_rows_weigh_nothing():
    scores, labels = random_problem(62, rows=10, classes=3)
    sharded = sharding.shard_rows(scores, labels)
    single = jaxthresh.confusion_counts(labels, scores > 0.5)
    padded = jaxthresh.confusion_counts(sharded.labels, sharded.scores > 0.5, sharded.row_weights)
    for a, b in zip(padded, single, strict=True):
        np.testing.assert_array_equal(a, b)


def test_shard_rows_checks():
    scores, labels = random_problem(63, rows=10, classes=3)
    with pytest.raises(ValueError, match="row_weights: must be >= 0"):
        sharding.shard_rows(scores, labels, -np.ones(10, int))
    with pytest.raises(ValueError, match="labels: shape"):
        sharding.shard_rows(scores, labels[:5])
