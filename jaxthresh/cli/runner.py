"""Running absl binaries so that every bad input is one line on stderr and exit status 2."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from absl import app, flags

USAGE_ERROR = 2


def fail(message: str) -> None:
    """Prints ``<program>: error: <message>`` as one line on stderr and exits with status 2."""
    program = os.path.basename(sys.argv[0]) if sys.argv else "jaxthresh"
    one_line = " ".join(str(message).split())
    print(f"{program}: error: {one_line}", file=sys.stderr)
    sys.exit(USAGE_ERROR)


def _parse_flags(argv: list[str]) -> list[str]:
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        fail(f"{error} (see --help)")
        raise  # unreachable: fail() exits


def run(main: Callable[[list[str]], None], *, positional: int = 0) -> None:
    """``absl.app.run(main)``, with bad flags and bad inputs reported as one line, status 2.

    ``ValueError`` (bad values) and ``OSError`` (missing or unreadable files) raised by
    ``main`` are bad inputs; anything else is a bug and keeps its traceback.

    Args:
      main: called with ``argv``: the program name, then the positional arguments.
      positional: how many positional arguments (e.g. a subcommand) ``main`` accepts.
    """

    def guarded(argv):
        if len(argv) > 1 + positional:
            extra = " ".join(argv[1 + positional :])
            fail(f"unexpected arguments: {extra} (flags are written --name=value)")
        try:
            main(argv)
        except (ValueError, OSError) as error:
            fail(str(error))

    # JAX logs, at INFO, each accelerator plugin it does not find; that is not news here.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    app.run(guarded, flags_parser=_parse_flags)
