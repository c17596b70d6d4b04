"""Files written whole or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Writes ``obj`` as JSON to ``path`` atomically.

    The text goes to a temporary file in the same folder, is flushed to disk, then renamed
    over ``path``: readers see the old file or the whole new one, never a partial one, and a
    failure (e.g. an object JSON cannot encode) leaves ``path`` untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder
    )
    try:
        with os.fdopen(descriptor, "w") as stream:
            json.dump(obj, stream, indent=2)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def float32_list(array) -> list:
    """Nested lists of the shortest decimals that read back as the same float32 values
    (``0.3``, not ``0.30000001192092896``), for JSON."""
    return np.asarray(array, np.float32).astype(str).astype(float).tolist()
