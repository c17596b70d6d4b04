import json

import numpy as np
import pytest

from jaxthresh.cli.files import float32_list, write_json_atomic


def test_write_json_atomic_writes_and_replaces(tmp_path):
    path = tmp_path / "out.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"a": [1.5, 2]})
    assert json.loads(path.read_text()) == {"a": [1.5, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_float32_list_round_trips_float32():
    values = np.array([[0.3, 1 / 3], [1e-7, 2.5]], np.float32)
    listed = float32_list(values)
    assert listed[0][0] == 0.3
    np.testing.assert_array_equal(np.asarray(listed, np.float32), values)


def test_written_files_follow_the_umask(tmp_path):
    import os

    path = tmp_path / "out.json"
    previous = os.umask(0o022)
    try:
        write_json_atomic(path, [1])
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644
