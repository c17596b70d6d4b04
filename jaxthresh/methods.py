"""The registry of threshold-fitting methods, by name.

Each method has two pieces:

* ``hyperparameters(n_classes, **kwargs) -> (arrays, static)`` validates keyword arguments
  (NumPy side) and splits them into traced arrays and compile-time values;
* ``fit_weighted(scores, labels, row_weights, **arrays, **static)`` is the pure, jit- and
  vmap-friendly fit on weighted rows; its result has a ``thresholds`` field.

Cross-validation and sweeps use only these two, so a new method joins them by registering here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from jaxthresh._fitting import fit_all_rows
from jaxthresh.auto import auto_fit_weighted, auto_hyperparameters
from jaxthresh.dicho import dicho_fit_weighted, dicho_hyperparameters
from jaxthresh.exact import exact_fit_weighted, exact_hyperparameters
from jaxthresh.numerical import numerical_fit_weighted, numerical_hyperparameters
from jaxthresh.sgl import sgl_fit_weighted, sgl_hyperparameters
from jaxthresh.thresholding import default_fit_weighted, default_hyperparameters


class Method(NamedTuple):
    """A registered method: see the module docstring. ``min_rows(hyperparameters)`` is the
    fewest fitting rows the method can use (``auto``: one per inner fold)."""

    hyperparameters: Callable[..., tuple[dict, dict]]
    fit_weighted: Callable
    min_rows: Callable[[dict], int] = lambda hyperparameters: 1


METHODS: dict[str, Method] = {
    "default": Method(default_hyperparameters, default_fit_weighted),
    "dicho": Method(dicho_hyperparameters, dicho_fit_weighted),
    "numerical": Method(numerical_hyperparameters, numerical_fit_weighted),
    "sgl": Method(sgl_hyperparameters, sgl_fit_weighted),
    "exact": Method(exact_hyperparameters, exact_fit_weighted),
    "auto": Method(
        auto_hyperparameters,
        auto_fit_weighted,
        lambda hyperparameters: hyperparameters.get("inner_folds", 5),
    ),
}


def get_method(name: str) -> Method:
    """The registered method called ``name``; ``ValueError`` naming the known ones if none."""
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(f"method: unknown method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name]


def hyperparameter_names(name: str) -> list[str]:
    """The keyword arguments that method ``name`` takes."""
    parameters = inspect.signature(get_method(name).hyperparameters).parameters
    return [p for p in parameters if p != "n_classes"]


def check_hyperparameter_names(name: str, hyperparameters: dict) -> Method:
    """The method called ``name``, after checking that ``hyperparameters`` are its own:
    unknown or missing names are a ``ValueError`` naming them."""
    method = get_method(name)
    parameters = inspect.signature(method.hyperparameters).parameters
    accepted = hyperparameter_names(name)
    unknown = sorted(set(hyperparameters) - set(accepted))
    if unknown:
        raise ValueError(
            f"hyperparameters: method {name!r} does not take {', '.join(unknown)}; "
            f"it takes {', '.join(accepted)}"
        )
    missing = [
        p
        for p in accepted
        if parameters[p].default is inspect.Parameter.empty and p not in hyperparameters
    ]
    if missing:
        raise ValueError(f"hyperparameters: method {name!r} needs {', '.join(missing)}")
    return method


def check_rows(registered: Method, n_rows: int | None, hyperparameters: dict) -> None:
    """``ValueError`` if ``n_rows`` fitting rows are fewer than the method can use."""
    needed = registered.min_rows(hyperparameters)
    if n_rows and isinstance(needed, int) and n_rows < needed:  # 0 rows: reported as empty
        raise ValueError(
            f"inner_folds: {needed} inner folds need at least {needed} fitting rows, got {n_rows}"
        )


def fit(method: str, scores, labels, **hyperparameters):
    """Fits the registered ``method`` on all rows: ``fit("sgl", s, y, init=0.3)`` is
    ``fit_sgl(s, y, init=0.3)``.

    Args:
      method: a name in :data:`METHODS`.
      scores: float[n, classes].
      labels: 0/1 ``[n, classes]``.
      **hyperparameters: the method's keyword arguments.

    Returns:
      The method's result NamedTuple; every one has ``thresholds: float32[classes]``.
    """
    registered = check_hyperparameter_names(method, hyperparameters)
    check_rows(registered, np.shape(scores)[0] if np.ndim(scores) == 2 else None, hyperparameters)
    return fit_all_rows(
        registered.hyperparameters, registered.fit_weighted, scores, labels, **hyperparameters
    )
