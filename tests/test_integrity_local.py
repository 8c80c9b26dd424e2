"""Faults on the local stores and bad input (issue 10): each gives one clear message, nothing
stored is lost, and runs stay resumable.

* run ids are never reused after the SQLite WAL file is lost;
* a damaged metadata database, a full disk, a binary config file, an impossible run id, an
  IncludeFile of a device and an artifact of a class defined in the flow file are each one
  message, without a traceback;
* a runtime killed with SIGKILL takes its task processes with it, and its run shows as crashed
  (with when it was last seen) until ``resume`` continues it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowlib.exceptions import ArtifactError, MetadataError
from flowlib.metadata.records import TaskRecord
from flowlib.metadata.sqlite import SqliteMetadataStore
from tests.support.backends import FLOWS, Backend

FLOW = "integrity_flow.py"


def _one_message(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


# -- run ids and the metadata database --------------------------------------------------------
def test_run_ids_are_not_reused_after_the_wal_file_is_lost(tmp_path: Path):
    db = tmp_path / "metadata.db"
    first = SqliteMetadataStore(db)
    first.create_run("F", "u", [], [])
    first.close()  # the last connection checkpoints: schema and run 1 are in the database file
    # Three runs committed to the WAL only (no checkpoint: the process dies without closing).
    code = (
        "import os, sys\n"
        "from flowlib.metadata.sqlite import SqliteMetadataStore\n"
        f"s = SqliteMetadataStore({str(db)!r})\n"
        "for _ in range(3): s.create_run('F', 'u', [], [])\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = SqliteMetadataStore(db)
    assert store.get_run("F", "4") is None  # the WAL's runs are gone from the database...
    assert store.create_run("F", "u", [], []).run_id == "5"  # ...but their ids stay taken


def test_a_damaged_metadata_database_is_one_clear_message(local: Backend):
    store = local.workdir / "store"
    local.run(FLOW, "run")
    db = store / "metadata.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with open(db, "r+b") as handle:
        handle.write(os.urandom(100))
    err = _one_message(local.run(FLOW, "status", expect=None))
    assert f"The metadata database {db} is damaged" in err
    assert "recover" in err


def test_a_full_disk_is_reported_not_hidden_by_a_failed_rollback(tmpfs):
    store = SqliteMetadataStore(tmpfs / "metadata.db")
    run = store.create_run("F", "u", [], [])
    _fill(tmpfs)
    tasks = [TaskRecord("F", run.run_id, "s" * 200, str(i), "pending", time.time(), [], ["x" * 200])
             for i in range(20_000)]
    with pytest.raises(MetadataError, match="is full") as info:
        store.create_tasks(tasks)
    assert "cannot rollback" not in str(info.value)


# -- disk full during a run ------------------------------------------------------------------
def test_disk_full_names_the_artifact_and_the_run_resumes(tmpfs, tmp_path: Path):
    backend = Backend("local", tmp_path, {"FLOWLIB_DATASTORE_ROOT": str(tmpfs),
                                          "FLOWLIB_CONFIG": "env"})
    proc = backend.run(FLOW, "run", "--kib", "6144", expect=None)
    err = _one_message(proc)
    assert "Artifact 'payload' of step 'start'" in err
    assert "no space left on the disk of the datastore" in err
    assert "cannot rollback" not in err
    leftovers = [p for p in tmpfs.rglob("*.tmp")]
    assert leftovers == []
    subprocess.run(["mount", "-o", "remount,size=64m", str(tmpfs)], check=True)
    done = backend.run(FLOW, "resume", "--origin-run-id", "1")
    assert "stored 6291456 bytes" in done.stdout + done.stderr


def test_stale_temporary_files_of_killed_writes_are_removed(tmp_path: Path):
    from flowlib.datastore.local import LocalBlobStore

    blobs = LocalBlobStore(tmp_path, "F")
    folder = blobs.data_dir / "ab"
    folder.mkdir(parents=True)
    stale = folder / ".abcdef.123.00ff.tmp"
    fresh = folder / ".abcdef.456.00ff.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    assert blobs.remove_stale_temp_files() == 1
    assert not stale.exists() and fresh.exists()


# -- bad input -------------------------------------------------------------------------------
def test_binary_config_file(local: Backend, tmp_path: Path):
    config = tmp_path / "config.json"
    config.write_bytes(bytes(range(256)) * 4)
    err = _one_message(local.run(FLOW, "status", env={"FLOWLIB_CONFIG": str(config)},
                                 expect=None))
    assert f"flowlib config file {config} is not UTF-8 text" in err


def test_logs_of_a_run_id_beyond_any_integer(local: Backend):
    local.run(FLOW, "run")
    err = _one_message(local.run(FLOW, "logs", "99999999999999999999999/start/1", expect=None))
    assert "does not exist" in err and "OverflowError" not in err


def test_include_file_of_a_device(local: Backend):
    err = _one_message(local.run("linear_flow.py", "run", "--notes", "/dev/zero", expect=None,
                                 timeout=60))
    assert "IncludeFile 'notes': '/dev/zero' is not a regular file" in err


def test_artifact_of_a_class_defined_in_the_flow_file(local: Backend):
    from flowlib.client import Run

    local.run(FLOW, "run")
    task = Run("IntegrityFlow/1")["start"].task
    with pytest.raises(ArtifactError) as info:
        task.data.point  # noqa: B018 - loading is the point
    message = str(info.value)
    assert "Artifact 'point' of IntegrityFlow/1/start/" in message
    assert "Move the class into a module" in message
    assert task.data.payload  # the other artifacts still load


# -- a runtime killed with SIGKILL ------------------------------------------------------------
@pytest.mark.parametrize("launcher", ["fork", "subprocess"])
def test_killed_runtime_takes_its_tasks_along_and_the_run_shows_crashed(
    local: Backend, tmp_path: Path, launcher: str
):
    from flowlib.client import Run

    marker = tmp_path / "task.pid"
    env = {**os.environ, **local.env, "FLOWLIB_LAUNCHER": launcher, "INTEGRITY_SLEEP": "120",
           "INTEGRITY_MARKER": str(marker)}
    runtime = subprocess.Popen([sys.executable, str(FLOWS / FLOW), "run"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (marker.exists() and marker.read_text()) and time.time() < deadline:
            assert runtime.poll() is None, "the run ended before its middle step started"
            time.sleep(0.1)
        task_pid = int(marker.read_text())
        runtime.send_signal(signal.SIGKILL)
        runtime.wait(30)
        deadline = time.time() + 30
        while _alive(task_pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not _alive(task_pid), "the task process outlived its runtime"
    finally:
        if runtime.poll() is None:
            runtime.kill()

    os.environ["FLOWLIB_HEARTBEAT_TIMEOUT"] = "0.5"
    try:
        time.sleep(0.6)
        run = Run("IntegrityFlow/1")
        assert run.status == "crashed" and run.crashed and not run.finished
        assert run.last_heartbeat_at is not None
        assert run["middle"].task.status == "crashed"  # its process died unrecorded
        shown = local.run(FLOW, "status", env={"FLOWLIB_HEARTBEAT_TIMEOUT": "0.5"})
        assert "Run IntegrityFlow/1: crashed" in shown.stdout
        assert "last seen" in shown.stdout and "resume --origin-run-id 1" in shown.stdout
    finally:
        del os.environ["FLOWLIB_HEARTBEAT_TIMEOUT"]
    local.run(FLOW, "resume", "--origin-run-id", "1", env={"INTEGRITY_SLEEP": "0"})
    assert Run("IntegrityFlow/2").successful


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


# -- a small full-able filesystem ------------------------------------------------------------
@pytest.fixture
def tmpfs(tmp_path: Path):
    """A 3 MiB tmpfs (needs root, as CI has); a faithful ENOSPC, not a simulated one."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
