"""records.jsonl survives a kill in the middle of a write: the reader sees the old file whole.

A child process appends a large record with the write of its temporary file slowed down: it
writes the first half, flushes, says so and waits. The test checks that moment is mid-write
(the temporary file holds exactly the first half, records.jsonl is untouched) and kills the
child with SIGKILL there; no ``finally`` runs, as in a real kill.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ridgeline.records.probe_record import read_records
from ridgeline.store.record_store import RecordStore

CHILD = r"""
import pathlib, sys, time
from ridgeline.store.record_store import RecordStore

def half_then_wait(self, text, *args, **kwargs):
    with self.open("w") as f:
        f.write(text[: len(text) // 2])
        f.flush()
        print(self, len(text[: len(text) // 2].encode()), len(text.encode()), flush=True)
        time.sleep(120)
        f.write(text[len(text) // 2 :])

pathlib.Path.write_text = half_then_wait
big = {"phase": "p", "probe": "pair", "step": 1, "pair": [0, 1], "x": [0.125] * 200_000}
RecordStore(sys.argv[1]).append([big])
"""


def _first_record():
    return {"phase": "p", "probe": "pair", "step": 0, "pair": [0, 1], "x": 1.0}


@pytest.mark.slow  # starts and kills a process
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_record_store_killed_mid_write_keeps_the_old_file(tmp_path):
    store = RecordStore(tmp_path / "records.jsonl")
    store.append([_first_record()])
    good = store.path.read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store.path)], stdout=subprocess.PIPE, text=True
    )
    try:
        tmp, written, total = child.stdout.readline().split()
        tmp_file = tmp_path / os.path.basename(tmp)
        # the moment is mid-write: the temporary file holds the first half of the new file
        assert tmp_file.parent == store.path.parent and tmp_file != store.path
        assert tmp_file.stat().st_size == int(written) and 0 < int(written) < int(total)
        assert store.path.read_bytes() == good
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert store.path.read_bytes() == good
    (record,) = read_records(store.path)
    assert record.step == 0
    # a later write (a resumed probe) goes through; the dead writer's half file stays apart
    store.append([{**_first_record(), "step": 1}])
    assert [r["step"] for r in store.read()] == [0, 1]
    assert tmp_file.stat().st_size == int(written)


def test_an_error_after_the_temporary_file_is_written_keeps_the_old_file(tmp_path, monkeypatch):
    import ridgeline.store.layout as layout

    store = RecordStore(tmp_path / "records.jsonl")
    store.append([_first_record()])
    good = store.path.read_bytes()
    seen = []

    def failing_replace(src, dst):
        seen.append(json.loads(Path(src).read_text().splitlines()[-1]))  # the whole new file
        raise OSError("disk gone")

    monkeypatch.setattr(layout.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk gone"):
        store.append([{**_first_record(), "step": 7}])
    assert seen == [{**_first_record(), "step": 7}]
    assert store.path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records.jsonl"]  # no temporary left
