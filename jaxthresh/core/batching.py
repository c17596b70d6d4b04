"""How batches of fits run, per backend.

XLA on CPU computes a reduction over the scores fastest when it is not batched: under
``vmap`` an operand shared by every batch element is broadcast along the batch axis first,
and the reduction leaves XLA's vectorized kernel. On a GPU, batching is what fills the
device. So kernels come in two variants, chosen per backend:

* ``"cpu"``: written for XLA on CPU; under ``vmap`` it runs once per batch element, in a
  loop (:func:`one_at_a_time`);
* ``"generic"``: plain JAX, batched by ``vmap`` as usual (GPU, TPU).

:func:`by_platform` picks the variant for the backend the computation is compiled for
(``jax.lax.platform_dependent``: only that branch is lowered), or the one named.

**Sharded rows.** While a computation on rows split over several devices is traced (its
entry point, a :func:`jit`, traces it under ``jax.set_mesh`` of the rows' mesh),
:func:`sharded_rows` gives the number of devices, and :func:`by_platform` chooses the
``generic`` variant whatever the platform: the ``cpu`` variants run NumPy in host
callbacks, which XLA runs on one device with every row gathered to it, and which block a
device's threads while the others wait in a collective (a deadlock on CPU).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding

VARIANTS = ("cpu", "generic")

#: The name of the mesh axis that rows are split along.
ROWS = "rows"


def rows_mesh_of(*trees) -> jax.sharding.Mesh | None:
    """The mesh of the first concrete JAX array among the leaves of ``trees`` whose rows
    (axis 0) are split along the :data:`ROWS` axis of a mesh of more than one device;
    None if there is none (NumPy arrays, one device, tracers)."""
    for leaf in jax.tree.leaves(trees):
        sharding = getattr(leaf, "sharding", None)
        if not isinstance(leaf, jax.Array) or not isinstance(sharding, NamedSharding):
            continue
        mesh, spec = sharding.mesh, sharding.spec
        if ROWS in mesh.axis_names and mesh.shape[ROWS] > 1 and len(spec) and spec[0] == ROWS:
            return mesh
    return None


def jit(function: Callable | None = None, **options) -> Callable:
    """``jax.jit(function, **options)`` for the entry points of computations that may run
    on sharded rows: on arguments split over devices (:func:`rows_mesh_of`) the function
    is traced under that mesh (``jax.set_mesh``) and every output is replicated on every
    device (so that each process can read the results). As a decorator, with or without
    options."""
    if function is None:
        return functools.partial(jit, **options)

    @functools.wraps(function)
    def replicated(*args, **kwargs):
        outputs = function(*args, **kwargs)
        everywhere = jax.sharding.PartitionSpec()
        return jax.tree.map(lambda a: jax.lax.with_sharding_constraint(a, everywhere), outputs)

    local, sharded = jax.jit(function, **options), jax.jit(replicated, **options)

    @functools.wraps(function)
    def call(*args, **kwargs):
        mesh = rows_mesh_of(args, kwargs)
        if mesh is None:
            return local(*args, **kwargs)
        with jax.set_mesh(mesh):
            return sharded(*args, **kwargs)

    call._cache_size = lambda: local._cache_size() + sharded._cache_size()  # as jax.jit's
    return call


def sharded_rows() -> int | None:
    """While tracing: the number of devices the rows are split over (the size of the
    :data:`ROWS` axis of JAX's current mesh), or None where they are not split."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or ROWS not in mesh.axis_names or mesh.shape[ROWS] < 2:
        return None
    return mesh.shape[ROWS]


def one_at_a_time(function: Callable) -> Callable:
    """Makes ``vmap`` of ``function`` run it once per batch element, in a ``lax.map`` loop.

    Args:
      function: takes and returns arrays (or pytrees of arrays).

    Returns:
      ``function`` with a custom batching rule; nested vmaps nest the loops. Not
      differentiable (``custom_vmap`` has no differentiation rule); nothing here needs it.
    """
    wrapped = jax.custom_batching.custom_vmap(function)

    @wrapped.def_vmap
    def _rule(axis_size, in_batched, *args):
        del axis_size
        leaves, tree = jax.tree.flatten(args)
        flags = jax.tree.leaves(in_batched)
        batched = [leaf for leaf, is_batched in zip(leaves, flags, strict=True) if is_batched]

        def one(batched_slice):
            slices = iter(batched_slice)
            full = [next(slices) if b else leaf for leaf, b in zip(leaves, flags, strict=True)]
            return wrapped(*jax.tree.unflatten(tree, full))

        out = jax.lax.map(one, batched)
        return out, jax.tree.map(lambda _: True, out)

    return wrapped


def rows_are_local() -> bool:
    """While tracing: whether the code runs on each device's own rows (inside a
    ``shard_map`` over the :data:`ROWS` axis), where sums over rows need a ``psum``."""
    return ROWS in jax.sharding.get_abstract_mesh().manual_axes


def by_platform(
    variant: str | None, *, cpu: Callable, generic: Callable, sharded: bool = True
) -> Callable:
    """``cpu`` or ``generic`` (same signature and outputs): the one ``variant`` names, or,
    for ``variant=None``, the one for the platform the caller is compiled for; on
    :func:`sharded_rows` always ``generic`` (unless ``sharded`` is False: a ``cpu``
    variant without host callbacks, that may run on sharded rows)."""
    if sharded and sharded_rows() is not None:
        return generic
    if variant == "cpu":
        return cpu
    if variant == "generic":
        return generic
    if variant is not None:
        raise ValueError(f"kernel: must be one of {', '.join(VARIANTS)} or None; got {variant!r}")

    def chosen(*args):
        return jax.lax.platform_dependent(*args, cpu=cpu, default=generic)

    return chosen


def map_batch(
    function: Callable,
    batch,
    variant: str | None = None,
    *,
    length: int = 1,
    chunk: int | None = None,
):
    """``function`` over the leading axis of the pytree ``batch``: a ``lax.map`` loop on
    CPU (bounded memory: one element's intermediates at a time), ``vmap`` elsewhere, of
    ``chunk`` elements at a time where given (a loop over chunks: memory for ``chunk``
    elements' intermediates, not for the whole batch). A batch without leaves (a
    configuration of static fields only) is one of ``length`` equal elements."""
    if not jax.tree.leaves(batch):
        index = jnp.arange(length)
        return map_batch(lambda i: function(batch), index, variant, chunk=chunk)

    def loop(batch):
        return jax.lax.map(function, batch)

    def batched(batch):
        size = jax.tree.leaves(batch)[0].shape[0]
        if chunk is not None and chunk < size:
            return jax.lax.map(function, batch, batch_size=chunk)
        return jax.vmap(function)(batch)

    return by_platform(variant, cpu=loop, generic=batched, sharded=False)(batch)
