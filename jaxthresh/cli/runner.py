"""Running absl binaries (the ``jaxthresh`` tool, the experiment binaries) so that every
message is one line on stderr.

* A bad input (a ``ValueError`` or ``OSError`` from ``main``, a bad flag) is one line,
  ``<program>: error: <message>``, and exit status 2. Anything else is a bug and keeps its
  traceback.
* A warning raised during the work (a :class:`jaxthresh.core.diagnostics.FitWarning`
  where a fit cannot work as asked, a NumPy ``RuntimeWarning``...) is one line,
  ``<program>: warning: <message>``, without Python's warning formatting; the exit status
  stays 0. A warning made an error (``python -W error``) is an error line.
* ``--help`` and ``-h`` (also after a command: ``jaxthresh fit -h``) print the help on
  stdout and exit 0; ``--helpfull`` adds absl's own flags.
* Ctrl-C (``KeyboardInterrupt``) is one line and exit status 130, not a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Callable

from absl import app, flags

USAGE_ERROR = 2
INTERRUPTED = 130  # 128 + SIGINT, as shells report it
BROKEN_PIPE = 141  # 128 + SIGPIPE
HELP_FLAGS = ("--help", "-h", "-?", "--helpshort")


def _program() -> str:
    return os.path.basename(sys.argv[0]) if sys.argv else "jaxthresh"


def _one_line(message) -> str:
    return " ".join(str(message).split())


def fail(message: str, status: int = USAGE_ERROR) -> None:
    """Prints ``<program>: error: <message>`` as one line on stderr and exits (status 2)."""
    print(f"{_program()}: error: {_one_line(message)}", file=sys.stderr)
    sys.exit(status)


def _parse_flags(argv: list[str]) -> list[str]:
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        fail(f"{error} (see --help)")
        raise  # unreachable: fail() exits


class _WarningLines:
    """A ``warnings.showwarning`` that prints each warning once, as one line on stderr."""

    def __init__(self):
        self.shown: set[tuple[type, str]] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = _one_line(message)
        if (category, text) in self.shown:
            return
        self.shown.add((category, text))
        if not issubclass(category, UserWarning):  # FitWarning is one; say what others are
            text = f"{text} ({category.__name__})"
        print(f"{_program()}: warning: {text}", file=sys.stderr)


def _help_requested(argv: list[str]) -> str | None:
    """The help flag given (before any ``--``), or None."""
    for argument in argv[1:]:
        if argument == "--":
            return None
        if argument in (*HELP_FLAGS, "--helpfull"):
            return argument
    return None


def _print_help(argv: list[str], help_text: Callable[[list[str]], str] | None, full: bool):
    try:
        if help_text is None or full:
            app.usage(shorthelp=not full, writeto_stdout=True)
        else:
            print(help_text(argv), flush=True)
    except BrokenPipeError:
        _stdout_closed()
    sys.exit(0)


def _stdout_closed() -> None:
    """Stdout's reader has gone (``jaxthresh ... | head``): exit quietly, as a program
    ended by SIGPIPE would (Python would otherwise complain again when it flushes)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(BROKEN_PIPE)


def run(
    main: Callable[[list[str]], None],
    *,
    positional: int = 0,
    help_text: Callable[[list[str]], str] | None = None,
) -> None:
    """``absl.app.run(main)``, with bad flags and bad inputs reported as one line, status 2,
    and warnings as one line each (see the module docstring).

    ``ValueError`` (bad values) and ``OSError`` (missing or unreadable files) raised by
    ``main`` are bad inputs; anything else is a bug and keeps its traceback.

    Args:
      main: called with ``argv``: the program name, then the positional arguments.
      positional: how many positional arguments (e.g. a subcommand) ``main`` accepts.
      help_text: the help for ``--help``, from ``sys.argv`` less the help flag (e.g. one
        command's help); None: absl's list of the main module's flags.
    """
    requested = _help_requested(sys.argv)
    if requested:
        rest = [argument for argument in sys.argv if argument != requested]
        _print_help(rest, help_text, full=requested == "--helpfull")

    def guarded(argv):
        if len(argv) > 1 + positional:
            extra = " ".join(argv[1 + positional :])
            fail(f"unexpected arguments: {extra} (flags are written --name=value)")
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _WarningLines()
                main(argv)
            sys.stdout.flush()
        except BrokenPipeError:
            _stdout_closed()
        except (ValueError, OSError) as error:
            fail(str(error))
        except Warning as warning:  # made an error by -W error or PYTHONWARNINGS
            fail(str(warning))
        except KeyboardInterrupt:
            fail("interrupted", INTERRUPTED)

    # JAX logs, at INFO, each accelerator plugin it does not find; that is not news here.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    app.run(guarded, flags_parser=_parse_flags)
