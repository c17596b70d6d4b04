import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxthresh
from jaxthresh import objectives, selection
from jaxthresh.core import folds, validation
from jaxthresh.methods import configure
from tests.conftest import PROJECT_ROOT, random_problem
from tests.methods import reference

SCORES, LABELS = random_problem(7, rows=60, classes=4)  # 3 folds of 20 rows
# 61 rows: folds of 21, 20 and 20 rows, fitting sets of 40 and 41 rows.
UNEVEN_SCORES, UNEVEN_LABELS = random_problem(7, rows=61, classes=4)


@pytest.mark.parametrize(
    "method, hyperparameters, uneven",
    [
        ("sgl", {"init": 0.4, "epochs": 30}, True),
        pytest.param(
            "sgl",
            {"init": 0.4, "epochs": 30, "average": "macro", "objective": objectives.fbeta(2.0)},
            False,
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "sgl", {"init": 0.4, "epochs": 30, "kernel": "generic"}, False, marks=pytest.mark.slow
        ),
        pytest.param("default", {}, False, marks=pytest.mark.slow),
        ("default", {"average": "macro"}, False),
        ("exact", {}, True),
        pytest.param("numerical", {"init": 0.4, "epochs": 10}, False, marks=pytest.mark.slow),
        pytest.param("dicho", {"steps": 5}, False, marks=pytest.mark.slow),
    ],
)
def test_each_fold_equals_a_fit_on_its_training_rows(method, hyperparameters, uneven):
    scores, labels = (UNEVEN_SCORES, UNEVEN_LABELS) if uneven else (SCORES, LABELS)
    result = jaxthresh.cross_validate(
        scores, labels, method, n_folds=3, fold_key=jax.random.key(3), **hyperparameters
    )
    average = hyperparameters.get("average", "micro")
    objective = hyperparameters.get("objective", "f1")
    ids = np.asarray(result.fold_ids)
    assert sorted(np.bincount(ids)) == ([20, 20, 21] if uneven else [20, 20, 20])
    for fold in range(3):
        train, held = ids != fold, ids == fold
        single = jaxthresh.fit(method, scores[train], labels[train], **hyperparameters)
        np.testing.assert_allclose(result.thresholds[fold], single.thresholds, atol=1e-5)

        def score(rows, thresholds):
            return float(
                reference.objective_of_predictions(
                    labels[rows], scores[rows] > thresholds, objective, average
                )
            )

        assert float(result.fit_score[fold]) == pytest.approx(
            score(train, single.thresholds), abs=1e-5
        )
        assert float(result.heldout_score[fold]) == pytest.approx(
            score(held, single.thresholds), abs=1e-5
        )


def test_sample_weight_is_the_rows_repeated_in_every_fold():
    weights = np.random.default_rng(1).integers(1, 3, len(SCORES))
    weighted = jaxthresh.cross_validate(SCORES, LABELS, "exact", weights)
    ids = np.asarray(weighted.fold_ids)
    for fold in range(3):
        train = np.flatnonzero(ids != fold)
        repeated = np.repeat(train, weights[train])
        single = jaxthresh.fit_exact(SCORES[repeated], LABELS[repeated])
        np.testing.assert_allclose(weighted.thresholds[fold], single.thresholds)


def test_all_folds_compile_once_and_work_under_jit():
    scores, labels = random_problem(8, rows=40, classes=3)
    before = selection._cross_validate_points._cache_size()
    result = jaxthresh.cross_validate(scores, labels, n_folds=4, init=0.5, epochs=5)
    assert selection._cross_validate_points._cache_size() == before + 1
    assert result.thresholds.shape == (4, 3)
    assert result.fits.history.shape == (4, 5)
    # Same shapes and settings, another fold key: no new compilation.
    other = jaxthresh.cross_validate(
        scores, labels, n_folds=4, fold_key=jax.random.key(9), init=0.5, epochs=5
    )
    assert selection._cross_validate_points._cache_size() == before + 1
    assert not np.array_equal(result.fold_ids, other.fold_ids)
    jitted = jax.jit(
        lambda s, y: jaxthresh.cross_validate(s, y, n_folds=4, init=0.5, epochs=5).heldout_score
    )(scores, labels)
    np.testing.assert_allclose(jitted, result.heldout_score, atol=1e-6)


def test_cpu_and_generic_fold_loops_agree():
    """Folds run in a loop on CPU and as a vmap elsewhere; both give the same results."""
    rows = jaxthresh.core.validation.as_rows(SCORES, LABELS)
    ids = folds.fold_ids(jax.random.key(0), len(SCORES), 3)
    masks = folds.fitting_masks(ids, 3)
    config = jaxthresh.methods.configure("exact", 4)

    def one_fold(fitting):
        fitting_rows = rows._replace(weights=folds.masked_weights(rows.weights, fitting))
        return config.fit(fitting_rows).thresholds

    map_batch = jax.jit(jaxthresh.core.batching.map_batch, static_argnums=(0, 2))
    loop = map_batch(one_fold, masks, "cpu")
    batched = map_batch(one_fold, masks, "generic")
    np.testing.assert_array_equal(loop, batched)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_folds": 61}, "n_folds: 61 folds need at least 61 rows, got 60"),
        ({"n_folds": 1}, "n_folds: must be >= 2"),
        ({"n_folds": 2.5}, "n_folds: expected a whole number"),
        ({"fold_key": 3}, r"fold_key: expected one jax\.random key"),
        ({"method": "magic"}, "method: unknown method 'magic'; known: default, dicho"),
        ({"method": "default", "slope": 3.0}, "method 'default' does not take slope"),
        ({"method": "auto", "inner_folds": 50}, "inner_folds: 50 inner folds need at least 50"),
        ({"seed": 3}, "method 'sgl' does not take seed"),
    ],
)
def test_cross_validate_checks(kwargs, message):
    with pytest.raises(ValueError, match=message):
        jaxthresh.cross_validate(SCORES, LABELS, **kwargs)


def test_threshold_spread_is_each_class_over_the_folds():
    # The configuration of the first test's uneven exact case: its compiled call is reused.
    result = jaxthresh.cross_validate(
        UNEVEN_SCORES, UNEVEN_LABELS, "exact", n_folds=3, fold_key=jax.random.key(3)
    )
    thresholds = np.asarray(result.thresholds, np.float64)
    spread = result.threshold_spread()
    assert isinstance(spread, selection.ThresholdSpread)
    np.testing.assert_allclose(spread.mean, thresholds.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(spread.std, thresholds.std(axis=0, ddof=1), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(spread.low, thresholds.min(axis=0))
    np.testing.assert_array_equal(spread.high, thresholds.max(axis=0))
    assert np.all(np.asarray(spread.high) - np.asarray(spread.low) > 0)  # the folds differ
    # Thresholds that do not move have no spread.
    still = result._replace(thresholds=np.broadcast_to(thresholds[:1], thresholds.shape))
    assert not np.asarray(still.threshold_spread().std).any()


def test_every_point_equals_its_own_cross_validation():
    scores, labels = random_problem(41, rows=90, classes=3)
    before = selection._cross_validate_points._cache_size()
    result = jaxthresh.sweep(
        scores, labels, init=0.4, epochs=20, slope=[10.0, 50.0], learning_rate=(1e-2, 3e-2)
    )
    assert selection._cross_validate_points._cache_size() == before + 1  # one compiled call
    assert result.heldout_score.shape == (4, 3) and result.thresholds.shape == (4, 3, 3)
    np.testing.assert_array_equal(result.grid["slope"], [10, 10, 50, 50])
    np.testing.assert_array_equal(result.grid["learning_rate"], [1e-2, 3e-2, 1e-2, 3e-2])
    for point in range(4):
        single = jaxthresh.cross_validate(
            scores,
            labels,
            init=0.4,
            epochs=20,
            slope=float(result.grid["slope"][point]),
            learning_rate=float(result.grid["learning_rate"][point]),
        )
        np.testing.assert_allclose(result.thresholds[point], single.thresholds, atol=1e-5)
        np.testing.assert_allclose(result.heldout_score[point], single.heldout_score, atol=1e-6)


def test_sweep_other_methods_and_bad_grids():
    scores, labels = random_problem(42, rows=40, classes=2)
    numerical = jaxthresh.sweep(scores, labels, "numerical", init=[0.3, 0.5], epochs=5)
    assert numerical.fit_score.shape == (2, 3)
    with pytest.raises(ValueError, match="nothing to sweep"):
        jaxthresh.sweep(scores, labels, init=0.4)
    with pytest.raises(ValueError, match="epochs: cannot be swept"):
        jaxthresh.sweep(scores, labels, init=0.4, epochs=[5, 10])
    with pytest.raises(ValueError, match="slope: the list of values to sweep is empty"):
        jaxthresh.sweep(scores, labels, init=0.4, slope=[])
    with pytest.raises(ValueError, match="slope: must be > 0"):
        jaxthresh.sweep(scores, labels, init=0.4, slope=[10.0, -1.0])
    with pytest.raises(ValueError, match="init: the values swept must be of one form"):
        jaxthresh.sweep(scores, labels, init=[None, 0.4])


def test_sweep_keys_and_per_class_arrays():
    scores, labels = random_problem(43, rows=40, classes=3)
    dicho = jaxthresh.sweep(
        scores, labels, "dicho", key=[jax.random.key(0), jax.random.key(1)], steps=3
    )
    assert dicho.heldout_score.shape == (2, 3)
    assert not np.array_equal(dicho.thresholds[0], dicho.thresholds[1])
    per_class = np.array([0.3, 0.4, 0.5])
    fixed = jaxthresh.sweep(scores, labels, init=per_class, slope=[10.0, 50.0], epochs=5)
    assert list(fixed.grid) == ["slope"] and fixed.heldout_score.shape == (2, 3)


# A subprocess on a real benchmark: run by .ci/run with the heavier tests.
@pytest.mark.slow
def test_sweep_binary(benchmark_dir, tmp_path):
    binary = [sys.executable, str(PROJECT_ROOT / "experiments" / "sweep.py")]
    output = tmp_path / "sweep.json"
    result = subprocess.run(
        [
            *binary,
            "--dataset=dcase2019",
            "--slope=20,50",
            "--learning_rate=0.01",
            f"--data_dir={benchmark_dir}",
            f"--output={output}",
            f"--plot_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "| 20 | 0.01 |" in result.stdout and "2 points x 3 folds" in result.stdout
    report = json.loads(output.read_text())
    assert report["grid"] == {"slope": [20.0, 50.0], "learning_rate": [0.01, 0.01]}
    assert len(report["heldout_score"]) == 2 and len(report["heldout_score"][0]) == 3
    assert (tmp_path / "dcase2019_slope.png").is_file()
    bad = subprocess.run([*binary, "--slope=a"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "sweep.py: error: slope: expected comma-separated numbers, got ['a']"
    ]


def test_iterative_folds_equal_a_loop_over_the_same_folds():
    key = jax.random.key(4)
    result = jaxthresh.cross_validate(
        UNEVEN_SCORES, UNEVEN_LABELS, "exact", fold_key=key, folds="iterative"
    )
    ids = np.asarray(result.fold_ids)
    np.testing.assert_array_equal(ids, folds.iterative_fold_ids(key, UNEVEN_LABELS, 3))
    for fold in range(3):
        train, held = ids != fold, ids == fold
        single = jaxthresh.fit_exact(UNEVEN_SCORES[train], UNEVEN_LABELS[train])
        np.testing.assert_array_equal(result.thresholds[fold], single.thresholds)
        predictions = UNEVEN_SCORES[held] > np.asarray(single.thresholds)
        heldout = jaxthresh.f1_score(UNEVEN_LABELS[held], predictions)
        assert float(result.heldout_score[fold]) == pytest.approx(heldout, abs=1e-6)
    swept = jaxthresh.sweep(
        UNEVEN_SCORES, UNEVEN_LABELS, "default", fold_key=key, folds="iterative", threshold=[0.4]
    )
    np.testing.assert_array_equal(swept.fold_ids, ids)
    # Inside jit, the folds are dealt by a lax.while_loop: the same folds, the same scores.
    jitted = jax.jit(
        lambda s, y: jaxthresh.cross_validate(
            s, y, "default", fold_key=key, folds="iterative", threshold=0.4
        )
    )(UNEVEN_SCORES, UNEVEN_LABELS)
    np.testing.assert_array_equal(jitted.fold_ids, ids)
    np.testing.assert_allclose(jitted.heldout_score, swept.heldout_score[0], atol=1e-6)


def test_random_folds_stay_the_default():
    result = jaxthresh.cross_validate(SCORES, LABELS, "default")
    np.testing.assert_array_equal(result.fold_ids, folds.fold_ids(jax.random.key(0), 60, 3))
    chosen = jaxthresh.cross_validate(SCORES, LABELS, "default", folds="random")
    np.testing.assert_array_equal(chosen.heldout_score, result.heldout_score)


@pytest.mark.parametrize("entry", [jaxthresh.cross_validate, jaxthresh.sweep])
def test_an_unknown_kind_of_folds_is_named(entry):
    with pytest.raises(ValueError, match="folds: must be one of random, iterative; got 'strat'"):
        entry(SCORES, LABELS, "default", folds="strat", threshold=[0.3, 0.5])


def _scans(jaxpr):
    """The ``scan`` equations of ``jaxpr`` that no other scan holds, found through
    ``pjit`` and ``cond`` (``platform_dependent``) sub-jaxprs."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "scan":
            found.append(eqn)
            continue
        for param in eqn.params.values():
            for value in param if isinstance(param, tuple | list) else [param]:
                inner = getattr(value, "jaxpr", None)
                if inner is not None and hasattr(inner, "eqns"):
                    found += _scans(inner)
    return found


def test_a_sweep_on_cells_builds_one_histogram_per_fold():
    """With ``bins``, the folds are the outer loop and each fold's histogram (its one
    scatter-add) is built there, not once per point in the inner loop."""
    scores, labels = random_problem(3, rows=60, classes=3)
    rows = validation.as_rows(scores, labels)
    configs = jax.tree.map(
        lambda leaf: jnp.stack([jnp.asarray(leaf)] * 4),
        configure("sgl", 3, 40, init=0.3, epochs=2, bins=16),
    )
    ids = jnp.arange(60) % 3
    closed = jax.make_jaxpr(
        lambda c, r, i: selection._cross_validate_points(
            c, r, i, n_folds=3, n_points=4, progress=False
        )
    )(configs, rows, ids)
    # On CPU both loops are lax.map (scans of length 3 folds and 4 points).
    (fold_loop,) = [e for e in _scans(closed.jaxpr) if e.params["length"] == 3]
    fold_body = fold_loop.params["jaxpr"].jaxpr
    point_loops = [str(e.params["jaxpr"]) for e in _scans(fold_body) if e.params["length"] == 4]
    outside = str(fold_body)
    for loop in point_loops:
        assert "scatter-add" not in loop
        outside = outside.replace(loop, "")
    assert point_loops and "scatter-add" in outside
