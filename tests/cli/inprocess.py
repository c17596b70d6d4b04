"""Runs absl programs (the ``jaxthresh`` tool, the experiment binaries) in this process.

Starting a program in a new process imports JAX and compiles every fit again (seconds
each); run here, a program shares this process's compiled functions. :func:`run_main`
calls ``main`` the way its console script or ``__main__`` block does, under a given
``argv``, and returns the exit status and what was written to stdout and stderr (absl
log lines included), as a process would see them (an uncaught exception: its traceback
and status 1). The flags are reset to their defaults
before and after each run, so runs do not leak values into one another.

Run as a module, it runs one experiment binary several times in one process (the binaries
define clashing flags, so each needs its own process, but not one per run)::

    python -m tests.cli.inprocess experiments/table2.py '[["--dataset=mnist"], ...]'

prints one JSON object per run: ``{"returncode", "stdout", "stderr"}``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import NamedTuple

from absl import flags
from absl import logging as absl_logging


class Ran(NamedTuple):
    """What a run left: its exit status and its stdout and stderr text."""

    returncode: int
    stdout: str
    stderr: str


def run_main(main: Callable[[], None], argv: list[str]) -> Ran:
    """Calls ``main()`` with ``sys.argv = argv``; its ``SystemExit`` becomes the status."""
    out, err = io.StringIO(), io.StringIO()
    handler = absl_logging.get_absl_handler().python_handler
    saved_argv, saved_stream = sys.argv, handler.stream
    flags.FLAGS.unparse_flags()
    sys.argv, handler.stream = list(argv), err
    returncode = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exit_:
        code = exit_.code
        returncode = code if isinstance(code, int) else (0 if code is None else 1)
    except Exception:  # as an uncaught exception ends a process: traceback, status 1
        err.write(traceback.format_exc())
        returncode = 1
    finally:
        sys.argv, handler.stream = saved_argv, saved_stream
        flags.FLAGS.unparse_flags()
    return Ran(returncode, out.getvalue(), err.getvalue())


def load_binary(path: str):
    """Imports an experiment binary (``experiments/<name>.py``) as a module; its folder
    goes on ``sys.path`` first, as when it runs as a script (it imports ``paper``)."""
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _main(path: str, runs: list[list[str]]) -> None:
    from jaxthresh.cli import runner

    module = load_binary(path)
    program = os.path.basename(path)
    for arguments in runs:
        ran = run_main(lambda: runner.run(module.main), [program, *arguments])
        print(json.dumps(ran._asdict()), flush=True)


if __name__ == "__main__":
    _main(sys.argv[1], json.loads(sys.argv[2]))
