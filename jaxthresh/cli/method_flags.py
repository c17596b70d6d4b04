"""Command-line flags for the methods' hyperparameters, derived from their declarations.

Every hyperparameter that a registered method declares with ``tool=True`` becomes one absl
flag of the same name (a ``key`` becomes ``--seed``), typed by its kind, with its help
text and the methods that take it. A flag's default is "not given": a method then uses its
own default. :func:`chosen_hyperparameters` reads the flags given on the command line for
one method, and refuses a flag the method does not take.
"""

from __future__ import annotations

import sys

from absl import flags

import jaxthresh
from jaxthresh.methods.base import Hyperparameter

_FLOAT_KINDS = ("per_class", "positive_per_class", "positive", "beta", "fraction", "real")


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
        else:
            raise AssertionError(spec.kind)
        flag_values.register_key_flag_for_module(caller, flag_values[flag])


def given(flag_values: flags.FlagValues = flags.FLAGS) -> dict[str, object]:
    """``{flag: value}`` of the hyperparameter flags given on the command line."""
    return {
        flag: flag_values[flag].value
        for flag in declared()
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


def seed(value) -> int:
    """A seed for ``jax.random.key``: a whole number in [0, 2**32)."""
    if not 0 <= value < 2**32:
        raise ValueError(f"seed: must be in [0, 2**32), got {value}")
    return int(value)
