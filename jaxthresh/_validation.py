"""Input checks at the public boundary (NumPy side, never inside jitted code).

Every check raises ``ValueError`` with a message that names the argument and says what is
wrong, so that command-line tools can print it as one line.
"""

from __future__ import annotations

import numbers

import numpy as np

AVERAGES = ("micro", "macro")


def as_scores(scores, name: str = "scores") -> np.ndarray:
    """Returns ``scores`` as a finite ``float32[n, classes]`` array with n, classes >= 1."""
    array = np.asarray(scores)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise ValueError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise ValueError(f"{name}: expected real numbers, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array [rows, classes], got {array.ndim}-D shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"{name}: is empty (shape {array.shape}); need at least one row and class")
    with np.errstate(over="ignore", invalid="ignore"):
        array = array.astype(np.float32, copy=False)
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        raise ValueError(
            f"{name}: {int((~finite).sum())} value(s) are NaN or infinite as float32 "
            f"(first at row {bad[0]}, class {bad[1]}: {np.asarray(scores)[bad[0], bad[1]]})"
        )
    return array


def as_labels(
    labels, shape: tuple[int, ...], name: str = "labels", against: str = "scores"
) -> np.ndarray:
    """Returns ``labels`` as ``bool[n, classes]``; they must have ``shape`` (that of
    ``against``) and be 0 or 1."""
    array = np.asarray(labels)
    if array.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array [rows, classes], got {array.ndim}-D shape {array.shape}"
        )
    if array.shape != tuple(shape):
        raise ValueError(
            f"{name}: shape {array.shape} does not match {against} shape {tuple(shape)}"
        )
    if array.dtype == np.bool_:
        return array
    if (
        array.dtype == object
        or not np.issubdtype(array.dtype, np.number)
        or (np.iscomplexobj(array))
    ):
        raise ValueError(f"{name}: expected 0/1 numbers or booleans, got dtype {array.dtype}")
    outside = (array != 0) & (array != 1)
    if outside.any():
        bad = np.argwhere(outside)[0]
        raise ValueError(
            f"{name}: values must be 0 or 1, found {array[bad[0], bad[1]].item()!r} "
            f"at row {bad[0]}, class {bad[1]} ({int(outside.sum())} such values)"
        )
    return array.astype(np.bool_)


def as_scores_and_labels(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """Validates a ``(scores, labels)`` pair; see :func:`as_scores` and :func:`as_labels`."""
    scores = as_scores(scores)
    return scores, as_labels(labels, scores.shape)


def as_per_class(value, n_classes: int, name: str) -> np.ndarray:
    """Returns a finite scalar or ``[classes]`` value broadcast to ``float32[classes]``."""
    array = np.asarray(value)
    if (
        array.dtype == object
        or not np.issubdtype(array.dtype, np.number)
        or (np.iscomplexobj(array))
    ):
        raise ValueError(f"{name}: expected a real number or array of them, got {value!r}")
    if array.ndim > 1 or (array.ndim == 1 and array.shape[0] != n_classes):
        raise ValueError(
            f"{name}: expected a scalar or one value per class ({n_classes}), got shape "
            f"{array.shape}"
        )
    with np.errstate(over="ignore"):
        array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: must be finite as float32, got {value!r}")
    return np.broadcast_to(array, (n_classes,)).copy()


def positive_float(value, name: str) -> float:
    """Returns ``value`` as a float, which must be finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    with np.errstate(over="ignore", under="ignore"):
        single = np.float32(value)
    if not np.isfinite(single) or single <= 0:
        raise ValueError(f"{name}: must be finite and > 0 as float32, got {value!r}")
    return float(value)


def positive_int(value, name: str) -> int:
    """Returns ``value`` as an int, which must be >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected a whole number >= 1, got {value!r}")
    if not 1 <= value < 2**31:
        raise ValueError(f"{name}: must be >= 1 and < 2**31, got {value!r}")
    return int(value)


def average_name(average) -> str:
    """Checks that ``average`` is 'micro' or 'macro'."""
    if average not in AVERAGES:
        raise ValueError(f"average: must be one of {', '.join(AVERAGES)}; got {average!r}")
    return average


def n_folds_for(n_folds, n_rows: int) -> int:
    """Checks that ``n_folds`` is an int with 2 <= n_folds <= n_rows."""
    if isinstance(n_folds, bool) or not isinstance(n_folds, numbers.Integral):
        raise ValueError(f"n_folds: expected a whole number >= 2, got {n_folds!r}")
    if n_folds < 2:
        raise ValueError(f"n_folds: must be >= 2, got {n_folds}")
    if n_folds > n_rows:
        raise ValueError(f"n_folds: {n_folds} folds need at least {n_folds} rows, got {n_rows}")
    return int(n_folds)


def whole_number(value, name: str) -> int:
    """Returns ``value`` as an int in [0, 2**32) (e.g. a seed)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected a whole number, got {value!r}")
    if not 0 <= value < 2**32:
        raise ValueError(f"{name}: must be in [0, 2**32), got {value}")
    return int(value)


def unit_interval(value, name: str) -> float:
    """Returns ``value`` as a float in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")
    return float(value)


def prng_key(key, name: str = "key"):
    """Checks that ``key`` is one ``jax.random`` key: a typed key (``jax.random.key(0)``)
    or a legacy ``uint32[2]`` one (``jax.random.PRNGKey(0)``)."""
    import jax  # Kept local: the rest of this module is NumPy only.

    if isinstance(key, jax.Array):
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ():
            return key
        if key.dtype == np.uint32 and key.shape == (2,):
            return key
    raise ValueError(f"{name}: expected one jax.random key, e.g. jax.random.key(0), got {key!r}")


def bins(value, n_classes: int, name: str = "bins") -> int | None:
    """None, or the number of histogram cells per class: an int in [1, 2**20] such that
    the ``2 * n_classes * cells`` counters of a histogram stay int32-addressable."""
    if value is None:
        return None
    cells = positive_int(value, name)
    if cells > 2**20:
        raise ValueError(f"{name}: at most 2**20 cells per class, got {value!r}")
    if 2 * n_classes * cells >= 2**31:
        raise ValueError(f"{name}: {cells} cells x {n_classes} classes is too many counters")
    return cells
