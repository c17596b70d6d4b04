"""How a method is declared, once, and what is derived from the declaration.

A method is a frozen dataclass (:class:`Method`) whose fields are its hyperparameters, each
declared with :func:`hyperparameter`: its kind (which fixes how a value is checked, how
it is written to ``thresholds.json`` and which command-line flag carries it), its default,
whether it is static (it shapes the compiled program: ``epochs``, ``average``...) or traced
(an array that ``vmap`` can batch: thresholds, learning rates, keys), and its help text.
Registered with :func:`register`, the class is a pytree (traced fields are leaves, static
fields part of the tree structure) and its name joins :data:`METHODS`. From that one
declaration come:

* ``fit_<name>`` and ``fit(name, ...)`` (:mod:`jaxthresh.methods`), with the signature and
  docstring of the fields;
* ``cross_validate`` and ``sweep`` (:mod:`jaxthresh.selection`), which stack configurations
  along a batch axis;
* ``fit_histogram`` for methods with a histogram path;
* the command-line flags and the ``hyperparameters`` of ``thresholds.json``
  (:mod:`jaxthresh.cli`).

A method implements ``fit_rows(rows) -> result`` (pure, traceable, ``vmap``-friendly; the
result a NamedTuple whose first field is ``thresholds: float32[classes]``) and, where it
has a histogram path, ``fit_histogram(histogram) -> result``.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, ClassVar

import jax
import numpy as np

from jaxthresh import objectives
from jaxthresh.core import validation
from jaxthresh.core.diagnostics import ClassSummary
from jaxthresh.core.histogram import Histogram, score_histogram
from jaxthresh.core.validation import Rows

#: The kinds of hyperparameter: what a value may be.
KINDS = {
    "per_class": "a real number, or one per class (float32[classes])",
    "positive_per_class": "a number > 0, or one per class",
    "positive": "a number > 0",
    "objective": "a name (f1, jaccard, accuracy, balanced_accuracy, mcc, precision, recall) "
    "or a jaxthresh.objectives value (fbeta, utility, custom)",
    "fraction": "a number in (0, 1]",
    "real": "a real number",
    "count": "a whole number",
    "flag": "True or False",
    "choice": "one of the names given",
    "key": "a jax.random key; None for jax.random.key(0)",
    "bins": "None, or a number of histogram cells per class",
}


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """The declaration of one hyperparameter (see the module docstring).

    Attributes:
      kind: a key of :data:`KINDS`.
      default: the value when none is given. A default of None allows None, which means
        what ``help`` says (for instance "derived from the data"); for a ``key``, None is
        ``jax.random.key(0)``.
      static: True if the value shapes the compiled program (a Python value, part of the
        pytree structure and of the jit cache key), False for a traced array.
      help: one line for the docstring and the command-line flag.
      choices: the allowed values of a ``choice``.
      minimum: the smallest allowed ``count``.
      tool: whether the command-line tool has a flag for it (and records it).
    """

    kind: str
    default: Any
    static: bool
    help: str
    choices: tuple[str, ...] = ()
    minimum: int = 1
    tool: bool = True

    def check(self, value, name: str, n_classes: int):
        """``value`` checked and converted (arrays float32; per-class ones broadcast to
        ``[classes]``), or a ``ValueError`` naming ``name``."""
        kind = self.kind
        if value is None and self.default is None and kind != "key":
            return None
        if kind == "per_class":
            return validation.per_class(value, n_classes, name)
        if kind == "positive_per_class":
            return validation.per_class(value, n_classes, name, positive=True)
        if kind == "positive":
            return validation.scalar(value, name)
        if kind == "objective":
            return objectives.get(value, n_classes)
        if kind == "fraction":
            checked = validation.scalar(value, name)
            if not validation.is_traced(value) and float(np.asarray(value)) > 1:
                raise ValueError(f"{name}: must be in (0, 1], got {value!r}")
            return checked
        if kind == "real":
            return validation.scalar(value, name, positive=False)
        if kind == "count":
            return validation.positive_int(value, name, minimum=self.minimum)
        if kind == "flag":
            return validation.boolean(value, name)
        if kind == "choice":
            return validation.choice(value, self.choices, name)
        if kind == "key":
            return jax.random.key(0) if value is None else validation.prng_key(value, name)
        if kind == "bins":
            return validation.bins(value, n_classes, name)
        raise AssertionError(kind)

    def record(self, value):
        """``value`` as JSON: numbers, lists of numbers (one per class only where they
        differ), key data for keys."""
        if value is None or self.static:
            return value
        if self.kind == "objective":
            return value.record()
        if self.kind == "key":
            return np.asarray(jax.random.key_data(value)).tolist()
        return objectives.json_floats(value)


def hyperparameter(
    kind: str,
    default: Any = None,
    *,
    help: str,
    static: bool | None = None,
    choices: tuple[str, ...] = (),
    minimum: int = 1,
    tool: bool = True,
):
    """A dataclass field declaring a hyperparameter (see :class:`Hyperparameter`); counts,
    flags, choices and bins are static unless ``static`` says otherwise."""
    if kind not in KINDS:
        raise ValueError(f"kind: unknown kind {kind!r}")
    if static is None:
        static = kind in ("count", "flag", "choice", "bins")
    declared = Hyperparameter(kind, default, static, help, tuple(choices), minimum, tool)
    return dataclasses.field(default=default, metadata={"hyperparameter": declared})


def objective_field(help: str = "The score to maximize."):
    return hyperparameter("objective", "f1", help=help)


def average_field():
    return hyperparameter(
        "choice",
        "micro",
        choices=objectives.AVERAGES,
        help="How the objective is averaged over classes: micro (the pooled counts), macro "
        "(the mean per-class score) or weighted (per-class scores weighted by positives).",
    )


def bins_field():
    return hyperparameter(
        "bins",
        None,
        help="None to fit on the rows; an int to fit on a histogram of that many equal cells "
        "per class (one pass over the rows, then work independent of their number).",
    )


class Method:
    """Base of every method's declaration (see the module docstring)."""

    #: The method's registered name.
    name: ClassVar[str]
    #: The NamedTuple its fits return.
    result_type: ClassVar[type]
    #: Histogram cells per class (the ``bins`` hyperparameter of the methods that have a
    #: histogram path; None: the rows themselves).
    bins: int | None = None
    #: The score the fit maximizes, and how it is averaged over classes: every method
    #: declares both (:func:`objective_field`, :func:`average_field`); cross-validation,
    #: sweeps and the tool report this score.
    objective: objectives.Objective
    average: str

    def fit_rows(self, rows: Rows):
        """The fit on weighted rows (pure, traceable, vmap-friendly), the configuration
        :meth:`resolved`."""
        raise NotImplementedError

    def fit_histogram(self, histogram: Histogram):
        """The fit on a :class:`jaxthresh.Histogram`, at cell resolution."""
        raise NotImplementedError

    def resolved(self, rows: Rows) -> Method:
        """The configuration with every value derived from the data filled in (for
        instance ``init=None``: the best single threshold on ``rows``)."""
        del rows
        return self

    def resolved_on_histogram(self, histogram: Histogram) -> Method:
        """:meth:`resolved`, from a histogram."""
        del histogram
        return self

    def fit(self, rows: Rows):
        """The fit on weighted rows: ``fit_rows`` after :meth:`resolved`; or, where ``bins``
        is set, :meth:`fit_on_histogram` of their histogram (values derived from the data,
        such as ``init=None``, then come from the cells too, so that nothing holds more
        than the histogram and one pass over the rows)."""
        if self.bins is not None:
            return self.fit_on_histogram(score_histogram(rows, bins=self.bins))
        return self.resolved(rows).fit_rows(rows)

    def fit_on_histogram(self, histogram: Histogram):
        """``fit_histogram`` after :meth:`resolved_on_histogram`."""
        return self.resolved_on_histogram(histogram).fit_histogram(histogram)

    def check_rows(self, n_rows: int) -> None:
        """``ValueError`` if ``n_rows`` fitting rows are too few for this configuration."""
        del n_rows

    def diagnose(self, result, summary: ClassSummary, rows: Rows | None) -> list[str]:
        """Warnings where this fit could not work as asked (see
        :mod:`jaxthresh.core.diagnostics`), from its result, the per-class summary of
        the rows and the rows themselves (None for a histogram fit); concrete values only."""
        del result, summary, rows
        return []

    def summary(self, result) -> dict:
        """JSON figures of a result worth recording beside the thresholds."""
        del result
        return {}

    def describe(self, summary: dict, n_classes: int, score_name: str) -> str | None:
        """A line for the command-line tool about a fit, from its :meth:`summary` (None:
        nothing beyond the score); ``score_name`` names the score, as ``micro-F1``."""
        del summary, n_classes, score_name
        return None

    def slopes(self, result) -> jax.Array | None:
        """The slopes a fit learned, to record beside its thresholds (None: none)."""
        del result
        return None

    def history(self, result) -> jax.Array | None:
        """The score of every step of an iterative fit, for its learning curve (None:
        not iterative)."""
        del result
        return None

    @classmethod
    def has_histogram_path(cls) -> bool:
        return cls.fit_histogram is not Method.fit_histogram

    @classmethod
    def hyperparameters(cls) -> dict[str, Hyperparameter]:
        """``{name: declaration}`` in declaration order."""
        return {field.name: field.metadata["hyperparameter"] for field in dataclasses.fields(cls)}

    @classmethod
    def create(cls, n_classes: int, **values):
        """The configuration for ``n_classes`` classes from keyword values, every one
        checked; unknown names are a ``ValueError`` naming the ones the method takes."""
        declared = cls.hyperparameters()
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise ValueError(
                f"hyperparameters: method {cls.name!r} does not take {', '.join(unknown)}; "
                f"it takes {', '.join(declared) or 'no hyperparameters'}"
            )
        return cls(
            **{
                name: spec.check(values.get(name, spec.default), name, n_classes)
                for name, spec in declared.items()
            }
        )

    def record(self) -> dict:
        """The hyperparameters as JSON (those the command-line tool carries)."""
        return {
            name: spec.record(getattr(self, name))
            for name, spec in self.hyperparameters().items()
            if spec.tool
        }


class Iterative:
    """For methods whose results carry ``history``, the score after every step."""

    def history(self, result) -> jax.Array:
        return result.history


#: The registered methods, by name.
METHODS: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    """Registers a method dataclass: as a pytree (traced fields are leaves) and in
    :data:`METHODS` under ``cls.name``."""
    declared = cls.hyperparameters()
    missing = {"objective", "average"} - set(declared)
    if missing:
        raise TypeError(f"method {cls.name!r}: must declare {', '.join(sorted(missing))}")
    jax.tree_util.register_dataclass(
        cls,
        data_fields=[n for n, spec in declared.items() if not spec.static],
        meta_fields=[n for n, spec in declared.items() if spec.static],
    )
    if cls.name in METHODS:
        raise ValueError(f"method: {cls.name!r} is registered twice")
    METHODS[cls.name] = cls
    return cls


def get_method(name: str) -> type[Method]:
    """The registered method called ``name``; ``ValueError`` naming the known ones if none."""
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(f"method: unknown method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name]


def docstring(cls: type[Method]) -> str:
    """The docstring of ``fit_<name>``, from the class docstring and the declarations."""
    summary = inspect.cleandoc(cls.__doc__ or "")
    lines = [
        summary,
        "",
        "Args:",
        "  scores: real [n, classes], NumPy or JAX (float32 inside).",
        "  labels: 0/1 or bool [n, classes].",
        "  sample_weight: None (each row once), or non-negative weights of rows [n] or of",
        "    labels [n, classes] (0 leaves a label out of every count: missing labels):",
        "    bool (in or out), integers (multiplicities: weight k is the row repeated k",
        "    times) or floats (counts become float32 sums).",
    ]
    for name, spec in cls.hyperparameters().items():
        lines.append(f"  {name}: {spec.help} Default {spec.default!r}.")
    lines += [
        "  progress: log the progress of long loops through absl logging.",
        "",
        "Returns:",
        f"  :class:`{cls.result_type.__name__}`; its ``thresholds`` are float32[classes]:",
        "  predict a class where ``score > threshold``.",
    ]
    return "\n".join(lines)


def signature(cls: type[Method]) -> inspect.Signature:
    """The signature of ``fit_<name>``."""
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("scores", positional),
        inspect.Parameter("labels", positional),
        inspect.Parameter("sample_weight", positional, default=None),
    ]
    parameters += [
        inspect.Parameter(name, keyword, default=spec.default)
        for name, spec in cls.hyperparameters().items()
    ]
    parameters.append(inspect.Parameter("progress", keyword, default=False))
    return inspect.Signature(parameters, return_annotation=cls.result_type.__name__)
