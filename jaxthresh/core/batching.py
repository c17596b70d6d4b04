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
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

VARIANTS = ("cpu", "generic")


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


def by_platform(variant: str | None, *, cpu: Callable, generic: Callable) -> Callable:
    """``cpu`` or ``generic`` (same signature and outputs): the one ``variant`` names, or,
    for ``variant=None``, the one for the platform the caller is compiled for."""
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

    return by_platform(variant, cpu=loop, generic=batched)(batch)
