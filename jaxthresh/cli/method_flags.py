"""Command-line flags for the methods' hyperparameters, derived from their declarations.

Every hyperparameter that a registered method declares with ``tool=True`` becomes one absl
flag of the same name (a ``key`` becomes ``--seed``), typed by its kind, with its help
text and the methods that take it. A flag's default is "not given": a method then uses its
own default. :func:`chosen_hyperparameters` reads the flags given on the command line for
one method, and refuses a flag the method does not take.

The ``objective`` is a name (``--objective=jaccard``); its coefficients have flags of their
own (:data:`SPELLINGS`): ``--objective=fbeta --beta=2`` (or ``--beta=2`` alone),
``--objective=utility --utility=1,-0.2,-1,0`` (the gains of a true positive, a false
positive, a false negative and a true negative; or ``--utility`` alone).
"""

from __future__ import annotations

import sys

from absl import flags

import jaxthresh
from jaxthresh.methods.base import Hyperparameter

_FLOAT_KINDS = ("per_class", "positive_per_class", "positive", "fraction", "real")

#: The flags that spell an objective's coefficients, beside ``--objective``.
SPELLINGS = ("beta", "utility")


def names() -> tuple[str, ...]:
    """Every hyperparameter flag, with the objective's spellings."""
    return (*declared(), *SPELLINGS)


def flag_name(name: str, spec: Hyperparameter) -> str:
    """The flag that carries hyperparameter ``name``."""
    return "seed" if spec.kind == "key" else name


def declared() -> dict[str, tuple[Hyperparameter, dict[str, Hyperparameter]]]:
    """``{flag: (declaration, {method: its declaration})}`` over every registered method."""
    table: dict[str, tuple[Hyperparameter, dict[str, Hyperparameter]]] = {}
    for method, cls in jaxthresh.METHODS.items():
        for name, spec in cls.hyperparameters().items():
            if not spec.tool:
                continue
            flag = flag_name(name, spec)
            known, methods = table.setdefault(flag, (spec, {}))
            if (known.kind, known.choices) != (spec.kind, spec.choices):
                raise TypeError(f"--{flag}: declared as {known.kind} and as {spec.kind}")
            methods[method] = spec
    return table


def _help(flag: str, spec: Hyperparameter, methods: dict[str, Hyperparameter]) -> str:
    helps = {s.help for s in methods.values()}
    if len(helps) == 1:
        text = spec.help
    else:
        text = "; ".join(f"{method}: {s.help.rstrip('.')}" for method, s in methods.items()) + "."
    if spec.kind == "key":
        return f"Seed of jax.random.key. {text} Methods: {', '.join(methods)}; default 0."
    defaults = {repr(s.default) for s in methods.values()}
    default = defaults.pop() if len(defaults) == 1 else "the method's"
    return f"{text} Methods: {', '.join(methods)}; default {default}."


def define(flag_values: flags.FlagValues = flags.FLAGS, exclude: tuple[str, ...] = ()) -> None:
    """Defines one flag per hyperparameter (but those in ``exclude``) in ``flag_values``,
    each a key flag of the calling module (so that its ``--help`` lists them)."""
    caller = sys._getframe(1).f_globals.get("__name__", "__main__")
    if caller == "__main__":  # absl names the main module after the script
        caller = sys.argv[0]
    for flag, (spec, methods) in declared().items():
        if flag in exclude:
            continue
        help_text = _help(flag, spec, methods)
        if spec.kind in _FLOAT_KINDS:
            flags.DEFINE_float(flag, None, help_text, flag_values=flag_values)
        elif spec.kind in ("count", "bins", "key"):
            flags.DEFINE_integer(flag, None, help_text, flag_values=flag_values)
        elif spec.kind == "flag":
            flags.DEFINE_bool(flag, None, help_text, flag_values=flag_values)
        elif spec.kind == "choice":
            flags.DEFINE_enum(flag, None, list(spec.choices), help_text, flag_values=flag_values)
        elif spec.kind == "objective":
            flags.DEFINE_string(flag, None, _objective_help(methods), flag_values=flag_values)
        else:
            raise AssertionError(spec.kind)
        flag_values.register_key_flag_for_module(caller, flag_values[flag])
    if "objective" in exclude:
        return
    flags.DEFINE_float(
        "beta",
        None,
        "F-beta's weight of recall, from 1e-4 to 1e4: --beta=2 is --objective=fbeta --beta=2.",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "utility",
        None,
        "The gains of a true positive, a false positive, a false negative and a true "
        "negative, as four numbers (costs negative): --utility=1,-0.2,-1,0 is "
        "--objective=utility --utility=1,-0.2,-1,0.",
        flag_values=flag_values,
    )
    for flag in SPELLINGS:
        flag_values.register_key_flag_for_module(caller, flag_values[flag])


def _objective_help(methods) -> str:
    from jaxthresh import objectives  # Kept local: flag definition needs no JAX.

    return (
        f"The score to maximize: {', '.join(objectives.NAMES)}, fbeta (with --beta) or "
        f"utility (with --utility). Methods: {', '.join(methods)}; default f1."
    )


def given(flag_values: flags.FlagValues = flags.FLAGS) -> dict[str, object]:
    """``{flag: value}`` of the hyperparameter flags given on the command line."""
    return {
        flag: flag_values[flag].value
        for flag in names()
        if flag in flag_values and flag_values[flag].present
    }


def chosen_hyperparameters(method: str, values: dict[str, object], *, strict: bool) -> dict:
    """The keyword arguments of ``method`` from ``{flag: value}`` (see :func:`given`).

    Args:
      method: a registered method name.
      values: flag values.
      strict: refuse a flag the method does not take (``ValueError`` naming both); else
        leave it out.
    """
    import jax  # Kept local: flag definition needs no JAX.

    hyperparameters = jaxthresh.METHODS[method].hyperparameters()
    by_flag = {flag_name(n, s): (n, s) for n, s in hyperparameters.items() if s.tool}
    values = dict(values)
    spelled = {flag: values.pop(flag) for flag in SPELLINGS if flag in values}
    if spelled or "objective" in values:
        values["objective"] = objective(values.get("objective"), **spelled)
    chosen = {}
    for flag, value in values.items():
        if flag not in by_flag:
            if strict:
                raise ValueError(
                    f"{flag}: method {method!r} does not take --{flag}; it takes "
                    + ", ".join(f"--{f}" for f in by_flag)
                )
            continue
        name, spec = by_flag[flag]
        chosen[name] = jax.random.key(seed(value)) if spec.kind == "key" else value
    return chosen


def objective(name: str | None, beta: float | None = None, utility: str | None = None):
    """The objective of ``--objective``, ``--beta`` and ``--utility`` (see the module
    docstring); ``ValueError`` naming the flag that does not fit."""
    from jaxthresh import objectives  # Kept local: flag definition needs no JAX.

    if name is None:
        name = "fbeta" if beta is not None else "utility" if utility is not None else "f1"
    if beta is not None and name not in ("fbeta", "f1"):
        raise ValueError(f"beta: --beta is F-beta's; it does not fit --objective={name}")
    if utility is not None and name != "utility":
        raise ValueError(f"utility: --utility does not fit --objective={name}")
    if name == "fbeta" or (name == "f1" and beta is not None):  # --objective=f1 --beta=2
        if beta is None:
            raise ValueError("beta: --objective=fbeta needs --beta")
        return _spelled("beta", objectives.fbeta, beta)
    if name == "utility":
        if utility is None:
            raise ValueError("utility: --objective=utility needs --utility=TP,FP,FN,TN")
        try:
            gains = [float(part) for part in utility.split(",")]
        except ValueError:
            gains = []
        if len(gains) != 4:
            raise ValueError(
                f"utility: expected four numbers TP,FP,FN,TN (e.g. 1,-0.2,-1,0), got {utility!r}"
            )
        return _spelled("utility", objectives.utility, *gains)
    if name == "custom":
        raise ValueError(
            "objective: a custom objective is a Python function: pass "
            "jaxthresh.objectives.custom(fn) to the library"
        )
    return objectives.get(name)


def _spelled(flag: str, make, *values):
    """``make(*values)``, its ``ValueError`` naming ``flag`` (the flag that spelled it)."""
    try:
        return make(*values)
    except ValueError as error:
        raise ValueError(f"{flag}: {str(error).removeprefix('objective: ')}") from None


def seed(value) -> int:
    """A seed for ``jax.random.key``: a whole number in [0, 2**32)."""
    if not 0 <= value < 2**32:
        raise ValueError(f"seed: must be in [0, 2**32), got {value}")
    return int(value)
