"""Rows sharded over 4 forced host devices give the thresholds of one device, for every
method, on the rows and on the histogram path (``bins``), used as the README shows:
``jaxthresh.fit_sgl(*jaxthresh.shard_rows(scores, labels), init=0.4)``."""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from jax.sharding import Mesh

import jaxthresh
from jaxthresh import sharding
from tests.conftest import PROJECT_ROOT, random_problem

SCRIPT = textwrap.dedent(
    """
    import sys
    import jax, numpy as np, jaxthresh

    from tests.conftest import random_problem

    assert len(jax.devices()) == 4, jax.devices()
    scores, labels = random_problem(61, rows=203, classes=5)  # 203: one row of padding
    sharded = jaxthresh.shard_rows(scores, labels)
    assert sharded.scores.shape == (204, 5) and sharded.sample_weight.shape == (204,)
    for array in sharded:
        assert len(array.sharding.device_set) == 4

    # The padding row weighs nothing.
    padded = jaxthresh.confusion_counts(
        sharded.labels, sharded.scores > 0.5, sample_weight=sharded.sample_weight
    )
    single = jaxthresh.confusion_counts(labels, scores > 0.5)
    for a, b in zip(padded, single, strict=True):
        np.testing.assert_array_equal(a, b)

    # The README's usage.
    spread = jaxthresh.fit_sgl(*jaxthresh.shard_rows(scores, labels), init=0.4, epochs=30)
    single = jaxthresh.fit_sgl(scores, labels, init=0.4, epochs=30)
    np.testing.assert_allclose(spread.thresholds, single.thresholds, atol=1e-5)
    print("fit_sgl ok")

    cases = {
        "fast": [("sgl", {"init": 0.4, "epochs": 30, "bins": 64})],
        "all": [
            ("sgl", {"epochs": 30}),
            ("sgl", {"init": 0.4, "epochs": 30, "kernel": "generic"}),
            ("sgl", {"init": 0.4, "epochs": 30, "kernel": "autodiff"}),
            ("exact", {}),
            ("exact", {"bins": 64}),
            ("numerical", {"init": 0.4, "epochs": 20}),
            ("numerical", {"epochs": 20, "bins": 64}),
            ("default", {}),
            ("default", {"threshold": 0.4}),
            ("dicho", {"key": jax.random.key(3), "steps": 20}),
            ("auto", {"key": jax.random.key(3)}),
        ],
    }[sys.argv[1]]
    # One device, the same rows, padding included (auto's inner folds depend on the number
    # of rows, so it is compared with the padded rows on one device).
    gathered = [np.asarray(array) for array in sharded]
    for method, hyperparameters in cases:
        spread = jaxthresh.fit(method, *sharded, **hyperparameters)
        if method == "auto":
            single = jaxthresh.fit(method, *gathered, **hyperparameters)
        else:
            single = jaxthresh.fit(method, scores, labels, **hyperparameters)
        np.testing.assert_allclose(spread.thresholds, single.thresholds, atol=1e-5)
        print(method, "ok")
    """
)


def _run_on_four_devices(cases):
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, cases],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
    )


def test_four_devices_equal_one():
    result = _run_on_four_devices("fast")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["fit_sgl", "ok", "sgl", "ok"]


@pytest.mark.slow
def test_four_devices_equal_one_for_every_method():
    result = _run_on_four_devices("all")
    assert result.returncode == 0, result.stderr[-3000:]
    methods = [
        "sgl",
        "sgl",
        "sgl",
        "exact",
        "exact",
        "numerical",
        "numerical",
        "default",
        "default",
    ]
    methods += ["dicho", "auto"]
    assert result.stdout.split() == ["fit_sgl", "ok", *(w for m in methods for w in (m, "ok"))]


def test_padding_rows_weigh_nothing():
    scores, labels = random_problem(62, rows=10, classes=3)
    sharded = sharding.shard_rows(scores, labels)
    single = jaxthresh.confusion_counts(labels, scores > 0.5)
    padded = jaxthresh.confusion_counts(
        sharded.labels, sharded.scores > 0.5, sample_weight=sharded.sample_weight
    )
    for a, b in zip(padded, single, strict=True):
        np.testing.assert_array_equal(a, b)
    assert jaxthresh.shard_rows is sharding.shard_rows


def test_shard_rows_checks():
    scores, labels = random_problem(63, rows=10, classes=3)
    with pytest.raises(ValueError, match="sample_weight: must be finite and >= 0"):
        sharding.shard_rows(scores, labels, -np.ones(10, int))
    with pytest.raises(ValueError, match="labels: shape"):
        sharding.shard_rows(scores, labels[:5])
    clips = Mesh(np.asarray(jax.devices()), ("clips",))
    with pytest.raises(ValueError, match="mesh: needs an axis named 'rows'"):
        sharding.shard_rows(scores, labels, mesh=clips)
