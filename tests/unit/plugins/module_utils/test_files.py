"""write_atomically: readers see the old or the new config, never half of one, and a failed check changes nothing."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.smb.alternative_ports.plugins.module_utils._files import write_atomically


def test_write_atomically_keeps_mode_and_a_failed_check_changes_nothing(tmp_path):
    path = tmp_path / "conf"
    path.write_text("old\n")
    os.chmod(path, 0o640)

    def reject(temp_path):
        assert open(temp_path).read() == "new\n"
        raise ValueError("rejected")

    with pytest.raises(ValueError):
        write_atomically(str(path), "new\n", validate=reject)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf"], "the temporary file was left behind"

    write_atomically(str(path), "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
