import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxthresh.core import batching


def _function(x, pair):
    """Arrays and a pytree in, a pytree out: a reduction, as the kernels are."""
    scale, shift = pair
    return {"sum": jnp.sum(x * scale) + shift, "scaled": x * scale}


_looped = batching.one_at_a_time(_function)

# Leading axes: [outer batch 2, inner batch 3], then each element's own shape.
X = jnp.arange(24.0).reshape(2, 3, 4)
SCALES = jnp.array([[1.0, -2.0, 0.5], [3.0, 0.0, 1.5]])
SHIFTS = jnp.array([[10.0, 11.0, 12.0], [20.0, 21.0, 22.0]])


def _batched_as(array, outer, inner):
    """``array`` with its outer / inner batch axis dropped where that vmap shares it."""
    if outer is None:
        array = array[0]
    if inner is None:
        array = array[0] if outer is None else array[:, 0]
    return array


def _assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert x.shape == y.shape
        np.testing.assert_allclose(x, y, rtol=1e-6)


def test_one_at_a_time_without_vmap_is_the_function():
    _assert_trees_equal(_looped(X[0, 0], (2.0, 1.0)), _function(X[0, 0], (2.0, 1.0)))


@pytest.mark.parametrize(
    "outer, inner",
    [
        # (in_axes of the outer vmap, in_axes of the inner one)
        ((0, (0, 0)), (0, (0, None))),  # both batched, the shift shared inside
        ((0, (0, 0)), (None, (0, None))),  # x shared by the inner batch
        ((0, (None, 0)), (0, (None, 0))),  # the scale shared by every batch
        ((None, (0, 0)), (0, (0, None))),  # x shared by the outer batch
    ],
)
def test_one_at_a_time_equals_vmap_in_nested_vmaps(outer, inner):
    x = _batched_as(X, outer[0], inner[0])
    scales = _batched_as(SCALES, outer[1][0], inner[1][0])
    shifts = _batched_as(SHIFTS, outer[1][1], inner[1][1])

    def nested(function):
        return jax.vmap(jax.vmap(function, in_axes=inner), in_axes=outer)

    expected = nested(_function)(x, (scales, shifts))
    _assert_trees_equal(nested(_looped)(x, (scales, shifts)), expected)
    _assert_trees_equal(jax.jit(nested(_looped))(x, (scales, shifts)), expected)


def test_under_vmap_it_is_a_loop():
    batched = jax.vmap(_looped, in_axes=(0, (0, None)))
    args = (X[0], (SCALES[0], SHIFTS[0, 0]))
    jaxpr = str(jax.make_jaxpr(batched)(*args))
    assert "scan[" in jaxpr  # lax.map over the batch
    assert "mul" in jaxpr
    plain = str(jax.make_jaxpr(jax.vmap(_function, in_axes=(0, (0, None))))(*args))
    assert "scan[" not in plain
    lowered = jax.jit(batched).lower(*args).as_text()
    assert "stablehlo.while" in lowered
    # Nested vmaps nest the loops.
    nested = jax.vmap(jax.vmap(_looped, in_axes=(0, (0, None))), in_axes=(0, (0, 0)))
    assert str(jax.make_jaxpr(nested)(X, (SCALES, SHIFTS[:, 0]))).count("scan[") == 2


def test_by_platform_picks_the_named_variant():
    def cpu(x):
        return x + 1.0

    def generic(x):
        return x + 2.0

    assert batching.by_platform("cpu", cpu=cpu, generic=generic) is cpu
    assert batching.by_platform("generic", cpu=cpu, generic=generic) is generic
    with pytest.raises(ValueError, match="kernel: must be one of cpu, generic or None"):
        batching.by_platform("gpu", cpu=cpu, generic=generic)


def test_by_platform_lowers_only_the_branch_of_the_platform():
    chosen = batching.by_platform(None, cpu=jnp.sin, generic=jnp.cos)
    x = jnp.linspace(0.0, 1.0, 5)
    on_cpu = jax.jit(chosen).trace(x).lower(lowering_platforms=("cpu",)).as_text()
    assert "stablehlo.sine" in on_cpu and "stablehlo.cosine" not in on_cpu
    on_gpu = jax.jit(chosen).trace(x).lower(lowering_platforms=("cuda",)).as_text()
    assert "stablehlo.cosine" in on_gpu and "stablehlo.sine" not in on_gpu
    # For the backend these tests run on:
    here = jax.jit(chosen).lower(x).as_text()
    ran = np.asarray(jax.jit(chosen)(x))
    if jax.default_backend() == "cpu":
        assert "stablehlo.sine" in here and "stablehlo.cosine" not in here
        np.testing.assert_allclose(ran, np.sin(x), rtol=1e-6)
    else:
        assert "stablehlo.cosine" in here and "stablehlo.sine" not in here
        np.testing.assert_allclose(ran, np.cos(x), rtol=1e-6)


@pytest.mark.parametrize("variant", ["cpu", "generic", None])
def test_map_batch_equals_vmap(variant):
    batch = {"x": X, "scales": SCALES}

    def function(element):
        return _function(element["x"], (element["scales"][:, None], 1.0))

    expected = jax.vmap(function)(batch)
    _assert_trees_equal(batching.map_batch(function, batch, variant), expected)
    _assert_trees_equal(
        jax.jit(lambda b: batching.map_batch(function, b, variant))(batch), expected
    )


def test_map_batch_loops_on_cpu_and_batches_elsewhere():
    def summed(batch):
        return batching.map_batch(jnp.sum, batch, None)

    x = jnp.ones((3, 5))
    on_cpu = jax.jit(summed).trace(x).lower(lowering_platforms=("cpu",)).as_text()
    on_gpu = jax.jit(summed).trace(x).lower(lowering_platforms=("cuda",)).as_text()
    assert "stablehlo.while" in on_cpu
    assert "stablehlo.while" not in on_gpu


def test_rows_on_one_device_are_not_sharded():
    """``batching.jit`` traces plain arrays as before: no mesh, no shard count, outputs
    where jit puts them (the sharded case runs in tests/test_sharding.py)."""
    rows = np.ones((4, 3), np.float32)
    assert batching.rows_mesh_of(rows, jnp.asarray(rows), {"a": 1}) is None
    seen = []

    @batching.jit
    def traced(x):
        seen.append((batching.sharded_rows(), batching.rows_are_local()))
        return x.sum(0)

    np.testing.assert_array_equal(traced(rows), rows.sum(0))
    traced(rows)  # cached: traced once
    assert seen == [(None, False)]
    assert traced._cache_size() == 1
