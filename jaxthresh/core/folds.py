"""Cross-validation folds, expressed as per-row weights over one shared copy of the data.

A fold's fitting rows are the rows of every other fold: a bool row mask, so folds of
unequal size share one compiled program, ``vmap`` (or a loop) runs them over the same
scores, and no fold copies the data.

Two ways to deal rows into folds (:data:`FOLD_KINDS`, chosen by :func:`assign`):

* ``"random"`` (:func:`fold_ids`): a shuffle, then rows dealt in turn;
* ``"iterative"`` (:func:`iterative_fold_ids`): iterative stratification (Sechidis,
  Tsoumakas & Vlahavas, "On the stratification of multi-label data", ECML PKDD 2011), so
  that every fold gets its share of each class's positive rows, rare classes included.

Both depend only on the key (and, for ``"iterative"``, on the labels and row weights).
Random folds differ in size by at most one row; iterative ones nearly as little (see
:func:`iterative_fold_ids`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxthresh.core import validation

#: The ways of dealing rows into folds (the ``folds`` argument of cross-validation).
FOLD_KINDS = ("random", "iterative")


def fold_ids(key: jax.Array, n_rows: int, n_folds: int) -> jax.Array:
    """Shuffled, balanced fold assignment: int32[n_rows] in [0, n_folds), sizes differ by <= 1.

    Args:
      key: a ``jax.random`` key.
      n_rows: number of rows (static).
      n_folds: number of folds (static), >= 1.
    """
    if n_folds < 1:
        raise ValueError(f"n_folds: must be >= 1, got {n_folds}")
    return (jax.random.permutation(key, n_rows) % n_folds).astype(jnp.int32)


def fitting_masks(ids: jax.Array, n_folds: int) -> jax.Array:
    """bool[folds, n]: True where a row is used to fit fold ``f`` (it is not in fold ``f``)."""
    return ids[None, :] != jnp.arange(n_folds)[:, None]


def masked_weights(weights: jax.Array, mask: jax.Array) -> jax.Array:
    """Weights (of rows ``[n]`` or labels ``[n, classes]``) with the rows outside ``mask``
    (bool[n]) set to 0, dtype kept (bool weights stay bool, so that kernels for in-or-out
    rows still apply)."""
    mask = mask.reshape(mask.shape + (1,) * (weights.ndim - 1))
    if weights.dtype == jnp.bool_:
        return weights & mask
    return jnp.where(mask, weights, 0).astype(weights.dtype)


def scaled_weights(weights: jax.Array, factor: jax.Array) -> jax.Array:
    """Weights (of rows ``[n]`` or labels ``[n, classes]``) scaled per row by ``factor``
    ``[n]``: a bool mask (:func:`masked_weights`: folds) or int32 multiplicities (bootstrap
    resamples: bool weights become the multiplicities where True, integer weights their
    products, int32, float weights float32 products)."""
    if factor.dtype == jnp.bool_:
        return masked_weights(weights, factor)
    factor = factor.reshape(factor.shape + (1,) * (weights.ndim - 1))
    if weights.dtype == jnp.bool_:
        return jnp.where(weights, factor, 0).astype(jnp.int32)
    return (weights * factor).astype(weights.dtype)


def check_fold_weights(ids, weights, n_folds: int) -> None:
    """Refuses concrete weights, of rows ``[n]`` or labels ``[n, classes]``, that leave a
    fold's held-out rows, or its fitting rows (every other fold), weighing 0 in all: a fit
    on them finds nothing, and a score on them counts nothing."""
    ids, weights = validation.host_array(ids), validation.host_row_totals(weights)
    held_out = np.bincount(ids, weights=weights, minlength=n_folds)
    fitting = held_out.sum() - held_out
    for fold in range(n_folds):
        for rows, total in (("held-out", held_out[fold]), ("fitting", fitting[fold])):
            if total == 0:
                raise ValueError(
                    f"sample_weight: the {rows} rows of fold {fold} all weigh 0, so the fold "
                    "has nothing to fit or score; use fewer folds, or weights > 0 on more rows"
                )


def largest_fold(n_rows: int, n_folds: int) -> int:
    """Rows in the largest of ``n_folds`` balanced folds."""
    return -(-n_rows // n_folds)


def given_fold_ids(fold_ids, n_rows: int, n_folds: int) -> jax.Array:
    """Fold ids a caller gives, checked: integers ``[n_rows]`` in ``[0, n_folds)`` (every
    fold holding a row, where concrete), as int32; ``ValueError`` naming ``folds``."""
    ids = jnp.asarray(fold_ids)
    if ids.shape != (n_rows,) or not jnp.issubdtype(ids.dtype, jnp.integer):
        raise ValueError(
            f"folds: 'random', 'iterative' or one integer fold id per row ({n_rows}), got "
            f"{getattr(fold_ids, 'dtype', type(fold_ids).__name__)} of shape {ids.shape}"
        )
    if not validation.is_traced(ids):
        counts = np.bincount(np.clip(np.asarray(ids), 0, n_folds), minlength=n_folds + 1)
        if np.any(np.asarray(ids) < 0) or counts[n_folds] or np.any(counts[:n_folds] == 0):
            raise ValueError(
                f"folds: fold ids must be in [0, {n_folds}) with every fold holding a row; "
                f"rows per fold {counts[:n_folds].tolist()}"
            )
    return ids.astype(jnp.int32)


def assign(kind: str, key: jax.Array, rows: validation.Rows, n_folds: int) -> jax.Array:
    """The fold of every row, int32[n]: :func:`fold_ids` for ``"random"``,
    :func:`iterative_fold_ids` of the rows' labels and weights for ``"iterative"``."""
    validation.choice(kind, FOLD_KINDS, "folds")
    if kind == "random":
        return fold_ids(key, rows.scores.shape[0], n_folds)
    labels, weights = rows.labels, rows.sample_weight
    if weights is not None and weights.ndim == 2:
        # Per-label weights: stratified on the labels they keep, a row weighing its most.
        labels, weights = labels & (weights > 0), jnp.max(weights, axis=1)
    return iterative_fold_ids(key, labels, n_folds, weights, slots=rows.positive_slots)


# Iterative stratification.
#
# The rows that count (weight > 0) are visited in the order of a shuffle. Each fold wants
# its share (1/k) of every class's positive weight and of the total weight. Then, as in
# Sechidis et al.:
#
# 1. take the class with the fewest positive rows not yet dealt (ties: a random order of
#    the classes), and deal each of its rows not yet dealt, in shuffle order, to the fold
#    that wants most of that class; ties go to the fold that wants most weight overall,
#    then to the first fold in a random rotation drawn per row. Dealing a row lowers what
#    its fold wants of each of the row's classes, and overall. Repeat until every positive
#    row is dealt;
# 2. deal each remaining row that counts (no positive class) to the fold that wants most
#    weight overall (same ties);
# 3. deal the rows of weight 0, in shuffle order, to the fold with the fewest rows (ties:
#    the first fold).
#
# No fold is capped: a cap would make a class dealt late (a rare class whose rows no
# other class shares keeps its count while others fall) land wherever room is left.
# Sizes are kept level by the ties and by step 2 instead: on the AudioSet labels (no row
# without a class) the 3 folds differ by 0.5% of their size at most (seeds 0 to 4).
#
# "Wants" is kept exactly, scaled by k: a fold wants ``P_c - k * (its positive weight of
# c)`` of class c (``P_c``: the class's positive weight) and ``W - k * (its weight)``
# overall; integers for bool and int weights, float32 for float weights. Concrete labels
# are dealt on the host with NumPy (a pass per class, a few microseconds per row); under
# tracing, one ``lax.while_loop`` step per positive (row, class) and a ``fori_loop`` over
# the rows do the same, so both give the same folds (for float weights, up to the float
# rounding of sums).


def _random_bits(key: jax.Array, size: int) -> jax.Array:
    """uint32 random bits, at least ``size`` of them: the size rounded up to a power of
    two, so that problems of similar sizes share one compiled program."""
    return _bits(key, 1 << max(size - 1, 0).bit_length())


@functools.partial(jax.jit, static_argnums=1)
def _bits(key: jax.Array, size: int) -> jax.Array:
    return jax.random.bits(key, (size,), jnp.uint32)


def _iterative_randomness(bits, n_rows: int, n_classes: int, n_folds: int, xp):
    """``(order, class_rank, rotation)`` from ``2 n + classes`` random bits: the visiting
    order of the rows, a random rank of each class (ties between classes), each row's
    first fold for ties between folds; the same with NumPy (``xp=np``) and in JAX."""
    if xp is np:
        order = np.argsort(bits[:n_rows], kind="stable")
        class_rank = np.argsort(bits[n_rows : n_rows + n_classes], kind="stable")
    else:
        order = jnp.argsort(bits[:n_rows], stable=True)
        class_rank = jnp.argsort(bits[n_rows : n_rows + n_classes], stable=True)
    rotation = bits[n_rows + n_classes : 2 * n_rows + n_classes] % n_folds
    return order.astype(xp.int32), class_rank.astype(xp.int32), rotation.astype(xp.int32)


def iterative_fold_ids(
    key: jax.Array, labels, n_folds: int, sample_weight=None, *, slots: int | None = None
) -> jax.Array:
    """Folds by iterative stratification (see the comment above): int32[n] in
    ``[0, n_folds)``, every fold holding its share of each class's positive rows as nearly
    as the rows allow, and of the rows overall.

    What it guarantees (``tests/core/test_folds.py`` checks each against a row-at-a-time
    reference of the algorithm):

    * every row is in exactly one fold; the folds depend only on the key, the labels and
      the weights (ties between classes and between folds are broken by the key);
    * a class none of whose positive rows an earlier class dealt (the rarest class; every
      class where no row has two) has its positive weight spread over the folds within
      one row's weight: within one row for unit weights;
    * with at least ``n_folds`` rows of weight > 0, every fold holds one of them;
    * rows of one class at most, unit weights: fold sizes differ by at most one row.

    A class whose rows rarer classes dealt first can be spread less evenly, and with
    rows of several classes fold sizes can differ by more than one row (measured on the
    AudioSet labels: ``experiments/stratification.py``).

    Works on concrete labels (NumPy, on the host: 527 classes x 20,371 rows in well under
    a second) and under ``jit`` and ``vmap`` (a ``lax.while_loop`` with one step per
    positive label, and a loop over the rows), which gives the same folds.

    Args:
      key: a ``jax.random`` key (the shuffle and the tie-breaks).
      labels: bool or 0/1 ``[n, classes]``.
      n_folds: number of folds (static), >= 1.
      sample_weight: None, or ``[n]`` row weights: only rows of weight > 0 are
        stratified, by their weight; rows of weight 0 go last to the smallest folds.
      slots: static, at least the positive rows (of weight > 0) of any class, for the
        traced version (default n); rows of a class beyond it are dealt as rows without
        a class.
    """
    if n_folds < 1:
        raise ValueError(f"n_folds: must be >= 1, got {n_folds}")
    labels = labels if isinstance(labels, jax.Array) else np.asarray(labels)
    n_rows, n_classes = labels.shape
    if not validation.is_traced(key, labels, sample_weight):
        # Dealt on the host: the labels of rows split over several processes are
        # gathered on every process (each then deals the same folds).
        labels = validation.host_array(labels)
        sample_weight = None if sample_weight is None else validation.host_array(sample_weight)
    weights = None if sample_weight is None else validation.row_weights(sample_weight)
    if validation.is_traced(key, labels, weights):
        slots = n_rows if slots is None else max(1, min(int(slots), n_rows))
        return _traced_iterative(key, jnp.asarray(labels, bool), weights, n_folds, slots)
    bits = np.asarray(_random_bits(key, 2 * n_rows + n_classes))
    order, class_rank, rotation = _iterative_randomness(bits, n_rows, n_classes, n_folds, np)
    weights = None if weights is None else np.asarray(weights)
    return jnp.asarray(
        _host_iterative(np.asarray(labels) != 0, weights, n_folds, order, class_rank, rotation)
    )


def _host_iterative(labels, weights, k, order, class_rank, rotation) -> np.ndarray:
    """:func:`iterative_fold_ids` on the host (NumPy arrays; the steps of the traced
    version, a class's rows at a time)."""
    n_rows, n_classes = labels.shape
    if weights is None:
        weights = np.ones(n_rows, np.int64)
    elif weights.dtype == np.bool_ or np.issubdtype(weights.dtype, np.integer):
        weights = weights.astype(np.int64)
    else:
        weights = weights.astype(np.float32)
    dtype = weights.dtype
    counted = weights > 0
    positive = labels & counted[:, None]
    class_weight = np.zeros(n_classes, dtype)
    for start, block in validation.row_blocks(positive):
        row_weight = weights[start : start + len(block)]
        if dtype == np.int64 and (row_weight == 1).all():
            class_weight += block.sum(0, dtype=dtype)
        else:
            class_weight += (row_weight[:, None] * block).sum(0, dtype=dtype)
    wanted = np.tile(class_weight, (k, 1))  # [k, classes], scaled by k
    wanted_rows = [dtype.type(weights.sum(dtype=dtype))] * k
    step = (weights * dtype.type(k)).astype(dtype)
    steps = step.tolist()
    rotation = rotation.tolist()
    ids = np.full(n_rows, -1, np.int32)
    # Each class's positive rows in visiting order: (class, position) sorted by class.
    class_of, position = np.nonzero(positive[order].T)
    starts = np.searchsorted(class_of, np.arange(n_classes + 1))
    left = np.diff(starts)  # positive rows not yet dealt, per class

    def best_fold(row, wanted_class):
        first = rotation[row]
        best = first
        for turn in range(1, k):
            fold = (first + turn) % k
            if (wanted_class[fold], wanted_rows[fold]) > (wanted_class[best], wanted_rows[best]):
                best = fold
        return best

    while (left > 0).any():
        open_classes = np.flatnonzero(left > 0)
        # Fewest rows left; ties by the random rank.
        chosen = open_classes[np.lexsort((class_rank[open_classes], left[open_classes]))[0]]
        candidates = order[position[starts[chosen] : starts[chosen + 1]]]
        candidates = candidates[ids[candidates] < 0]
        wanted_class = wanted[:, chosen].tolist()
        dealt = np.empty(len(candidates), np.int32)
        for index, row in enumerate(candidates.tolist()):
            fold = best_fold(row, wanted_class)
            dealt[index] = fold
            wanted_class[fold] -= steps[row]
            wanted_rows[fold] -= steps[row]
        ids[candidates] = dealt
        block = positive[candidates]
        left -= block.sum(0)
        for fold in np.unique(dealt):
            mine = dealt == fold
            taken = step[candidates[mine], None] * block[mine]
            wanted[fold] -= taken.sum(0, dtype=dtype)
    # Rows that count but have no positive class: to the fold that wants most overall.
    for row in order[(ids[order] < 0) & counted[order]].tolist():
        fold = best_fold(row, wanted_rows)
        ids[row] = fold
        wanted_rows[fold] -= steps[row]
    # Rows of weight 0, in visiting order, to the fold with the fewest rows (ties: the
    # first): the first m (size, fold) pairs in order, each fold's sizes counting up.
    rest = order[ids[order] < 0]
    if len(rest):
        sizes = np.bincount(ids[ids >= 0], minlength=k)
        levels = sizes[:, None] + np.arange(len(rest))[None, :]
        pairs = np.lexsort((np.repeat(np.arange(k), len(rest)), levels.ravel()))[: len(rest)]
        ids[rest] = pairs // len(rest)
    return ids


@functools.partial(jax.jit, static_argnames=("n_folds", "slots"))
def _traced_iterative(key, labels, weights, n_folds: int, slots: int) -> jax.Array:
    """:func:`iterative_fold_ids` in JAX (one loop step per positive label, then per row)."""
    n_rows, n_classes = labels.shape
    k = n_folds
    bits = _random_bits(key, 2 * n_rows + n_classes)
    order, class_rank, rotation = _iterative_randomness(bits, n_rows, n_classes, k, jnp)
    if weights is None:
        weights = jnp.ones(n_rows, jnp.int32)
    elif weights.dtype == jnp.bool_:
        weights = weights.astype(jnp.int32)
    dtype = weights.dtype
    lowest = jnp.iinfo(dtype).min if jnp.issubdtype(dtype, jnp.integer) else -jnp.inf
    most = jnp.iinfo(jnp.int32).max
    counted = weights > 0
    positive = labels & counted[:, None]
    step = (weights * k).astype(dtype)
    wanted = jnp.tile(jnp.sum(jnp.where(positive, weights[:, None], 0), 0, dtype=dtype), (k, 1))
    wanted_rows = jnp.full((k,), jnp.sum(weights, dtype=dtype))
    folds = jnp.arange(k, dtype=jnp.int32)
    # Each class's positive rows in visiting order, in `slots` slots.
    in_order = positive[order].T  # [classes, n]
    slot = jnp.cumsum(in_order, axis=1, dtype=jnp.int32) - 1
    lists = (
        jnp.zeros((n_classes, slots), jnp.int32)
        .at[jnp.arange(n_classes)[:, None], jnp.where(in_order, slot, slots)]
        .set(jnp.broadcast_to(order, (n_classes, n_rows)), mode="drop")
    )
    lengths = jnp.sum(in_order, axis=1, dtype=jnp.int32)

    def best_fold(row, wanted_class, wanted_rows):
        tied = wanted_class == jnp.max(wanted_class)
        tied = tied & (wanted_rows == jnp.max(jnp.where(tied, wanted_rows, lowest)))
        return jnp.argmin(jnp.where(tied, (folds - rotation[row]) % k, k)).astype(jnp.int32)

    def next_class(left):
        # Fewest rows left; ties by the random rank.
        fewest = jnp.min(jnp.where(left > 0, left, most))
        tied = (left > 0) & (left == fewest)
        return jnp.argmin(jnp.where(tied, class_rank, most)).astype(jnp.int32), fewest < most

    def deal(ids, wanted, wanted_rows, row, fold, dealt):
        take = jnp.where(dealt, step[row], 0).astype(dtype)
        ids = ids.at[row].set(jnp.where(dealt, fold, ids[row]))
        wanted = wanted.at[fold].add(-jnp.where(positive[row], take, 0).astype(dtype))
        return ids, wanted, wanted_rows.at[fold].add(-take)

    def body(state):
        chosen, position, _, ids, wanted, wanted_rows, left = state
        active = position < jnp.minimum(lengths[chosen], slots)
        row = lists[chosen, jnp.minimum(position, slots - 1)]
        dealt = active & (ids[row] < 0)
        fold = best_fold(row, wanted[:, chosen], wanted_rows)
        ids, wanted, wanted_rows = deal(ids, wanted, wanted_rows, row, fold, dealt)
        left = left - (dealt & positive[row]).astype(jnp.int32)
        # A class whose list is done is done (also where `slots` were too few for it: its
        # rows beyond them are then dealt as rows without a class).
        left = jnp.where(active, left, left.at[chosen].set(0))
        following, more = next_class(left)
        chosen = jnp.where(active, chosen, following)
        position = jnp.where(active, position + 1, 0)
        return chosen, position, active | more, ids, wanted, wanted_rows, left

    first, running = next_class(lengths)
    ids = jnp.full(n_rows, -1, jnp.int32)
    state = (first, jnp.int32(0), running, ids, wanted, wanted_rows, lengths)
    _, _, _, ids, wanted, wanted_rows, _ = jax.lax.while_loop(lambda s: s[2], body, state)

    def without_class(position, state):
        ids, wanted_rows = state
        row = order[position]
        fold = best_fold(row, wanted_rows, wanted_rows)
        ids, _, wanted_rows = deal(
            ids, wanted, wanted_rows, row, fold, (ids[row] < 0) & counted[row]
        )
        return ids, wanted_rows

    ids, _ = jax.lax.fori_loop(0, n_rows, without_class, (ids, wanted_rows))

    def weightless(position, state):
        ids, sizes = state
        row = order[position]
        fold = jnp.argmin(sizes).astype(jnp.int32)
        dealt = ids[row] < 0
        return ids.at[row].set(jnp.where(dealt, fold, ids[row])), sizes.at[fold].add(dealt)

    sizes = jnp.zeros(k, jnp.int32).at[ids].add(ids >= 0, mode="drop")
    ids, _ = jax.lax.fori_loop(0, n_rows, weightless, (ids, sizes))
    return ids
