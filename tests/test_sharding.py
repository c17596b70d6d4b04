"""Rows split over devices give the answers of one device, as users run them: 4 forced
host devices in one process (the README's one-machine recipe), and 2 ``jax.distributed``
CPU processes on 127.0.0.1 (gloo collectives; 1 and 2 devices each; every process passes
only its own rows, ``shard_rows(..., process_local=True)``), every process under a
timeout. The answers are compared with the same global rows (padding included) fitted in
one process; the compiled programs are checked to hold no host callback."""

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
from jaxthresh.core import validation
from tests.conftest import PROJECT_ROOT, random_problem
from tests.processes import check_all, run_processes

#: What both the 4-device and the 2-process scripts run: ``(label, call)`` pairs, each
#: call made on the sharded rows and on the same rows gathered into one process.
CHECKS = textwrap.dedent(
    """
    import numpy as np
    import jax
    import jaxthresh
    from jaxthresh import sharding
    from jaxthresh.core.validation import host_array

    def same(label, on_sharded, on_gathered):
        for a, b in zip(jax.tree.leaves(on_sharded), jax.tree.leaves(on_gathered), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, err_msg=label)
        print(label, "ok", flush=True)

    def thresholds(function):
        return lambda *rows: function(*rows).thresholds

    def fitted(method, **hyperparameters):
        return lambda *rows: jaxthresh.fit(method, *rows, **hyperparameters).thresholds

    def validated(method, function="cross_validate", **options):
        call = getattr(jaxthresh, function)
        return lambda *rows: jax.tree.map(np.asarray, call(*rows, method, **options)[:3])

    KEY = jax.random.key(3)
    FAST = [("exact", fitted("exact")), ("sgl", fitted("sgl", epochs=20))]
    EVERY = FAST + [
        ("cv-exact-iterative", validated("exact", folds="iterative")),
        ("default", fitted("default")),
        ("cv-exact-random", validated("exact")),
        ("exact-macro", fitted("exact", average="macro")),
        ("exact-mcc", fitted("exact", objective="mcc", average="macro")),
        ("exact-bins", fitted("exact", bins=64)),
        ("default-macro", fitted("default", average="macro")),
        ("default-mcc", fitted("default", objective="mcc")),
        ("sgl-generic", fitted("sgl", init=0.4, epochs=20, kernel="generic")),
        ("sgl-bins", fitted("sgl", epochs=20, bins=64)),
        ("numerical", fitted("numerical", epochs=5)),
        ("numerical-bins", fitted("numerical", epochs=5, bins=64)),
        ("dicho", fitted("dicho", key=KEY, steps=10)),
        ("constrained", fitted("constrained", min_precision=0.6)),
        ("auto", fitted("auto", key=KEY)),
        ("auto-iterative", fitted("auto", key=KEY, folds="iterative")),
        ("cv-sgl-random", validated("sgl", epochs=10)),
        ("cv-sgl-iterative", validated("sgl", epochs=10, folds="iterative")),
        ("sweep", validated("sgl", "sweep", epochs=10, slope=[10.0, 50.0])),
        ("bootstrap", validated("exact", "bootstrap", n_resamples=4)),
        ("average-precision", lambda s, y, w: jaxthresh.average_precision(y, s, w)),
        ("roc-auc", lambda s, y, w: jaxthresh.roc_auc(y, s, w)),
    ]

    def run_checks(sharded, gathered, cases):
        for label, call in {"fast": FAST, "every": EVERY}[cases]:
            same(label, call(*sharded), call(*gathered))
    """
)

FOUR_DEVICES = CHECKS + textwrap.dedent(
    """
    import sys
    from tests.conftest import random_problem

    assert len(jax.devices()) == 4, jax.devices()
    # 4001 rows: 3 rows of padding. 4000 x 17 crashed XLA's collectives when NumPy
    # callbacks ran on one device while the others waited.
    scores, labels = random_problem(61, rows=4001, classes=int(sys.argv[2]))
    sharded = jaxthresh.shard_rows(scores, labels)
    assert sharded.scores.shape == (4004, scores.shape[1])
    for array in sharded:
        assert len(array.sharding.device_set) == 4

    # The padding weighs nothing; the README's usage.
    same("padding", jaxthresh.confusion_counts(sharded.labels, sharded.scores > 0.5,
         sample_weight=sharded.sample_weight), jaxthresh.confusion_counts(labels, scores > 0.5))
    same("readme", jaxthresh.fit_sgl(*sharded, init=0.4, epochs=30).thresholds,
         jaxthresh.fit_sgl(scores, labels, init=0.4, epochs=30).thresholds)

    # No host callback is compiled on sharded rows; the sorts trade rows for classes
    # (all-to-all), the pooled best threshold gathers only candidate cuts.
    with jax.set_mesh(sharding.row_mesh()):
        for method in jaxthresh.METHODS:
            required = {"min_precision": 0.6} if method == "constrained" else {}
            text = str(jax.make_jaxpr(fitted(method, **required))(*sharded))
            assert "callback" not in text, method
        exact = str(jax.make_jaxpr(jaxthresh.fit_exact)(*sharded))
        default = str(jax.make_jaxpr(jaxthresh.fit_default)(*sharded))
    assert "all_to_all" in exact and "all_gather" in default and "all_to_all" not in default
    print("jaxpr ok")

    run_checks(sharded, [np.asarray(a) for a in sharded], sys.argv[1])

    if sys.argv[1] == "every":
        # The pooled best threshold (candidate cuts gathered, counts scattered) and the
        # histogram of sharded rows (counted per device a block at a time), against one
        # device: ties, every kind of weight, objectives of every monotone family.
        from jaxthresh.core import validation
        from jaxthresh.core.histogram import score_histogram

        rng = np.random.default_rng(5)
        for seed in (0, 1):
            s, y = random_problem(seed, rows=301, classes=7, ties=seed == 0)
            for w in (None, rng.integers(0, 4, 301), rng.integers(0, 3, (301, 7)),
                      rng.random(301).astype(np.float32)):
                split = jaxthresh.shard_rows(s, y, w)
                for objective in ("f1", "jaccard", "precision"):
                    spread = jaxthresh.fit_default(*split, objective=objective).threshold
                    single = jaxthresh.fit_default(s, y, w, objective=objective).threshold
                    if w is not None and w.dtype == np.float32:
                        # Float sums in another order: a tie (precision 1 against
                        # predicting nothing) may go either way; the scores reached agree.
                        reached = jaxthresh.objectives.get(objective).averaged
                        spread, single = (
                            reached(jaxthresh.confusion_counts(y, s > t, w).confusion(), "micro")
                            for t in (spread, single)
                        )
                    same(f"pooled-{seed}-{objective}", spread, single)
                if w is None or w.dtype != np.float32:  # float sums: another order
                    with jax.set_mesh(sharding.row_mesh()):
                        spread = jax.jit(lambda r: score_histogram(r, bins=16))(
                            validation.as_rows(*split))
                    single = score_histogram(validation.as_rows(s, y, w), bins=16)
                    for a, b in zip(spread, single, strict=True):
                        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        print("pooled-and-histograms", "ok")
    """
)


def _run_on_four_devices(cases: str, classes: int):
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-c", FOUR_DEVICES, cases, str(classes)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
    )


def _labels_ok(stdout: str) -> list[str]:
    words = stdout.split()
    assert words[1::2] == ["ok"] * (len(words) // 2), stdout
    return words[0::2]


def test_four_devices_equal_one():
    result = _run_on_four_devices("fast", classes=17)
    assert result.returncode == 0, result.stderr[-3000:]
    labels = _labels_ok(result.stdout)
    assert labels[:3] == ["padding", "readme", "jaxpr"]
    assert labels[3:] == ["exact", "sgl"]


@pytest.mark.slow
def test_four_devices_equal_one_for_every_method():
    result = _run_on_four_devices("every", classes=64)
    assert result.returncode == 0, result.stderr[-3000:]
    labels = _labels_ok(result.stdout)
    assert len(labels) == 3 + 24 + 2 * 4 * 3 + 1 and labels[-1] == "pooled-and-histograms"


TWO_PROCESSES = CHECKS + textwrap.dedent(
    """
    from tests.conftest import random_problem

    own_rows = [int(n) for n in sys.argv[5].split(",")]
    weighted = sys.argv[7] == "weighted"
    scores, labels = random_problem(71, rows=sum(own_rows), classes=64)
    weights = np.random.default_rng(4).integers(0, 3, len(scores)) if weighted else None
    start = sum(own_rows[:PROCESS_ID])
    mine = slice(start, start + own_rows[PROCESS_ID])
    sharded = jaxthresh.shard_rows(
        scores[mine], labels[mine], None if weights is None else weights[mine],
        process_local=True,
    )
    # Only this process's rows are on its devices.
    held = sum(s.data.shape[0] for s in sharded.scores.addressable_shards)
    assert held == sharded.scores.shape[0] // PROCESSES, held

    # The documented order: global row p * per_process + i is row i of process p, and
    # the padding after each process's rows weighs nothing.
    gathered = [host_array(a) for a in sharded]
    per_process = len(gathered[0]) // PROCESSES
    for p, count in enumerate(own_rows):
        first = sum(own_rows[:p])
        block = slice(p * per_process, p * per_process + count)
        np.testing.assert_array_equal(gathered[0][block], scores[first : first + count])
        np.testing.assert_array_equal(gathered[1][block], labels[first : first + count])
        assert not gathered[2][p * per_process + count : (p + 1) * per_process].any()
    print("order ok", flush=True)
    run_checks(sharded, gathered, sys.argv[6])
    """
)


def _run_on_two_processes(cases, *, devices=1, rows="2500,1700", weighted=False):
    finished = run_processes(
        TWO_PROCESSES,
        processes=2,
        devices=devices,
        timeout=900,
        args=[rows, cases, "weighted" if weighted else "unweighted"],
    )
    outputs = check_all(finished)
    assert outputs[0] == outputs[1]  # every process gets every result
    return _labels_ok(outputs[0])


def test_two_processes_equal_one():
    labels = _run_on_two_processes("fast")
    assert labels == ["order", "exact", "sgl"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("devices", "rows", "weighted"), [(1, "2500,1700", True), (2, "1300,2900", False)]
)
def test_two_processes_equal_one_for_every_method(devices, rows, weighted):
    labels = _run_on_two_processes("every", devices=devices, rows=rows, weighted=weighted)
    assert len(labels) == 1 + 24


BAD_PROCESS = textwrap.dedent(
    """
    import numpy as np
    from tests.conftest import random_problem

    scores, labels = random_problem(72, rows=50, classes=4)
    if PROCESS_ID == 1:
        scores[3, 2] = np.nan
    try:
        jaxthresh.shard_rows(scores, labels, process_local=True)
    except ValueError as error:
        print(error)
    """
)


def test_a_bad_process_fails_every_process():
    """A process whose rows are invalid raises its own error; the others raise it too,
    naming that process (no process waits forever on a collective)."""
    outputs = check_all(run_processes(BAD_PROCESS, timeout=120))
    assert outputs[1].startswith("scores: 1 value(s) are NaN or infinite"), outputs[1]
    assert outputs[0].startswith("scores: 1 value(s) are NaN or infinite"), outputs[0]
    assert outputs[0].strip().endswith("(on process 1)"), outputs[0]


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
    with pytest.raises(ValueError, match="sample_weight: must be finite and >= 0"):
        sharding.shard_rows(scores, labels, -np.ones(10, int), process_local=True)
    with pytest.raises(ValueError, match="scores: no process has any row"):
        sharding.shard_rows(scores[:0], labels[:0], process_local=True)


def test_one_process_local_rows_are_the_rows():
    scores, labels = random_problem(64, rows=10, classes=3)
    local = sharding.shard_rows(scores, labels, np.arange(10) % 3, process_local=True)
    np.testing.assert_array_equal(local.scores, scores)
    np.testing.assert_array_equal(local.sample_weight, np.arange(10) % 3)


def test_the_method_may_follow_the_sharded_weights():
    """``cross_validate(*shard_rows(s, y), "exact")``: the third of the sharded arrays is
    the weights, the method name comes after them."""
    scores, labels = random_problem(65, rows=30, classes=3)
    sharded = sharding.shard_rows(scores, labels)
    spread = jaxthresh.cross_validate(*sharded, "exact", n_folds=2)
    plain = jaxthresh.cross_validate(scores, labels, "exact", sharded.sample_weight, n_folds=2)
    np.testing.assert_array_equal(spread.thresholds, plain.thresholds)
    weights = sharded.sample_weight
    for method, given in [(weights, "exact"), ("exact", weights)]:
        method, given = validation.method_and_weights(method, given)
        assert method == "exact" and given is weights
