"""The host cache's pruning (flowlib/environments/host_cache.py) on real files, with real
``flock`` locks held by real processes: an entry a job holds is never deleted, an old unused
one is, the free-space floor evicts the least recently used first, and concurrent unpacks and
prunes never let a job use a half-deleted entry. Only the free-space reading is injected (a
seam), to play a filesystem that is nearly full."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowlib.environments import host_cache
from flowlib.environments.host_cache import DAY, MARKER, STAMP, HostCacheError, Settings

REPO = Path(__file__).resolve().parents[2]
FILES = 40  # files per test bundle: a half-deleted entry would miss some


def bundle(key: str, files: int = FILES, size: int = 4096) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        items = {MARKER: b"{}", **{f"pkg/mod{i}.py": f"# {key} {i}\n".encode() * (size // 8)
                                   for i in range(files)}}
        for name, data in items.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def plant(folder: Path, key: str, used_days_ago: float | None, size: int = 4096) -> Path:
    """An entry a job unpacked and finished with: its files and its last-used mark."""
    entry = folder / key
    with tarfile.open(fileobj=io.BytesIO(bundle(key, size=size))) as tar:
        tar.extractall(entry)
    if used_days_ago is not None:
        (entry / STAMP).touch()
        when = time.time() - used_days_ago * DAY
        os.utime(entry / STAMP, (when, when))
    return entry


def holder(folder: Path, key: str) -> subprocess.Popen:
    """A job using entry ``key``: ``use`` then exec into the task, which waits for stdin to
    close (the lock must survive the exec, as through stage 0's and the bootstrap's)."""
    code = textwrap.dedent(f"""
        import os, sys
        from flowlib.environments import host_cache
        host_cache.use({str(folder.parent)!r}, {key!r}, lambda: b"", report=lambda line: None)
        os.execv(sys.executable, [sys.executable, "-c",
                 "import sys; print('ready', flush=True); sys.stdin.read()"])
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline() == "ready\n"
    return proc


def done(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "host" / "bundles"
    folder.mkdir(parents=True)
    held = len(host_cache._HELD)
    yield folder
    for fd in host_cache._HELD[held:]:  # what this test process took: a job would end here
        os.close(fd)
    del host_cache._HELD[held:]


def test_an_entry_in_use_survives_and_an_old_unused_one_is_removed(cache: Path) -> None:
    old, busy, recent, legacy = "a1" * 16, "b2" * 16, "c3" * 16, "d4" * 16
    plant(cache, old, 20)
    plant(cache, busy, 20)
    plant(cache, recent, 2)
    plant(cache, legacy, None)  # unpacked by an older flowlib: no mark
    os.utime(cache / legacy, (0, 0))
    (cache / f".{old}.4242.tmp" / "pkg").mkdir(parents=True)  # an unpack whose job died
    (cache / f".trash-{old}-0badf00d").mkdir()  # a deletion interrupted
    job = holder(cache, busy)
    assert time.time() - (cache / busy / STAMP).stat().st_mtime < 60  # using it marks it
    when = time.time() - 30 * DAY  # a task that has run for 30 days: only its lock keeps it
    os.utime(cache / busy / STAMP, (when, when))
    lines: list[str] = []
    try:
        removed = host_cache.prune(str(cache), Settings(14, 0), report=lines.append)
        assert [r.key for r in removed] == [old]
        assert removed[0].why == "unused for 20 days" and removed[0].size > FILES * 4096
        assert not (cache / old).exists() and not (cache / f"{old}.use").exists()
        assert (cache / busy / MARKER).exists() and (cache / recent / MARKER).exists()
        assert (cache / legacy / STAMP).exists()  # adopted: kept a full max age from now
        assert sorted(p.name for p in cache.iterdir() if p.name.startswith(".")) == []
        (line,) = lines
        assert line.startswith(f"flowlib: host cache {cache}: removed 1 entry ({old[:12]} "
                               "unused for 20 days, ")
        assert "kept 3 (1 in use)" in line and "left by interrupted unpacks" in line
    finally:
        done(job)
    removed = host_cache.prune(str(cache), Settings(14, 0), report=lines.append)
    assert [r.key for r in removed] == [busy]  # the job ended: now it can go
    assert "removed no entry" not in lines[-1]
    assert host_cache.prune(str(cache), Settings(None, 0), report=lines.append) == []
    assert "removed no entry, 0 B freed; kept 2," in lines[-1]


def test_free_space_floor_evicts_least_recently_used_first(cache: Path) -> None:
    keys = ["e5" * 16, "f6" * 16, "a7" * 16, "b8" * 16]  # used 5, 4, 3 and 1 days ago
    for key, days in zip(keys, (5, 4, 3, 1), strict=True):
        plant(cache, key, days)
    each = host_cache.disk_bytes(str(cache / keys[0]))
    total = 100 * each
    full = host_cache.disk_bytes(str(cache))

    def free_space(path: str) -> tuple[int, int]:  # a disk 100 entries big, 8.5 free at start
        assert path == str(cache)
        return int(8.5 * each) + full - host_cache.disk_bytes(str(cache)), total

    job = holder(cache, keys[0])  # the least recently used is in use (since 5 days): skipped
    when = time.time() - 5 * DAY
    os.utime(cache / keys[0] / STAMP, (when, when))
    lines: list[str] = []
    try:
        removed = host_cache.prune(str(cache), Settings(14, 10), report=lines.append,
                                   free_space=free_space)
        assert [r.key for r in removed] == keys[1:3]  # 2 to reach 10 %, oldest unused first
        assert {r.why for r in removed} == {"least recently used"}
        assert (cache / keys[0]).exists() and (cache / keys[3]).exists()
        assert re.search(r" freed; kept 2 \(1 in use\), 1\d% of [\d.]+ [KM]iB free\.$", lines[-1])
        # A new entry that needs room: the last one goes too, and the floor is still not met.
        removed = host_cache.prune(str(cache), Settings(14, 10), keep=[], need=3 * each,
                                   report=lines.append, free_space=free_space)
        assert [r.key for r in removed] == keys[3:]
        assert "still under the 10% floor" in lines[-1]
    finally:
        done(job)


def test_concurrent_unpacks_and_prunes_never_use_a_partial_entry(cache: Path) -> None:
    """Four jobs, each 25 times: take one of three bundles (unpacking it if missing, which
    prunes every entry nobody holds: max age ~0), check every file of it while holding it,
    let go, sometimes prune. A deletion visible before it is complete would fail a check."""
    worker = textwrap.dedent("""
        import os, random, sys
        from flowlib.environments import host_cache
        from tests.environments.test_host_cache import FILES, bundle
        base, seed = sys.argv[1], int(sys.argv[2])
        rng, keys = random.Random(seed), ["1a" * 16, "2b" * 16, "3c" * 16]
        unpacked = removed = 0
        for round in range(25):
            key = rng.choice(keys)
            def load(key=key):
                global unpacked
                unpacked += 1
                return bundle(key)
            entry = host_cache.use(base, key, load, report=lambda line: None)
            names = sorted(os.listdir(os.path.join(entry, "pkg")))
            assert len(names) == FILES, (key, len(names))
            for i in range(FILES):
                with open(os.path.join(entry, "pkg", f"mod{i}.py")) as handle:
                    assert handle.read().startswith(f"# {key} {i}"), (key, i)
            for fd in host_cache._HELD:
                os.close(fd)
            host_cache._HELD.clear()
            if rng.random() < 0.3:
                removed += len(host_cache.prune(os.path.join(base, "bundles"),
                                                host_cache.Settings(1e-9, 0),
                                                report=lambda line: None))
        print(unpacked, removed)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO), host_cache.MAX_AGE_ENV: "1e-9",
           host_cache.MIN_FREE_ENV: "0"}
    procs = [subprocess.Popen([sys.executable, "-c", worker, str(cache.parent), str(seed)],
                              env=env, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for seed in range(4)]
    results = [proc.communicate(timeout=240) for proc in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    unpacked = sum(int(out.split()[0]) for out, _ in results)
    assert unpacked > 3  # entries were deleted and unpacked again while others ran
    leftovers = [p.name for p in cache.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    for entry in (p for p in cache.iterdir() if p.is_dir()):
        assert len(list((entry / "pkg").iterdir())) == FILES


def test_a_pruner_killed_mid_delete_leaves_no_half_entry_to_use(cache: Path) -> None:
    key = "9f" * 16
    plant(cache, key, 20)
    killed = textwrap.dedent(f"""
        import os, shutil
        from flowlib.environments import host_cache
        def dies(path, *args, **kwargs):  # the job is killed halfway through the deletion
            pkg = os.path.join(path, "pkg")
            for name in sorted(os.listdir(pkg))[:{FILES // 2}]:
                os.unlink(os.path.join(pkg, name))
            os._exit(9)
        shutil.rmtree = dies
        host_cache.prune({str(cache)!r}, host_cache.Settings(14, 0))
    """)
    proc = subprocess.run([sys.executable, "-c", killed], cwd=REPO, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 9
    assert not (cache / key).exists()  # renamed away before the first file went
    lines: list[str] = []
    entry = Path(host_cache.use(str(cache.parent), key, lambda: bundle(key),
                                report=lines.append, environ={host_cache.MIN_FREE_ENV: "0"}))
    assert len(list((entry / "pkg").iterdir())) == FILES  # unpacked again, whole
    assert "left by interrupted unpacks and deletions" in lines[0]
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("age,floor,message", [
    ("0", None, "batch_host_cache_max_age_days is '0': it must be a number of days greater "
                "than 0 (default 14), or 'off'"),
    ("two weeks", None, "batch_host_cache_max_age_days is 'two weeks'"),
    ("nan", None, "batch_host_cache_max_age_days is 'nan'"),
    (None, "100", "batch_host_cache_min_free_percent is '100': it must be the percentage of "
                  "the host cache's disk to keep free, from 0 (no floor) to 99"),
    (None, "-1", "batch_host_cache_min_free_percent is '-1'"),
])
def test_bad_settings_are_one_clear_line(age, floor, message) -> None:
    with pytest.raises(HostCacheError) as info:
        host_cache.settings(age, floor)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert "FLOWLIB_BATCH_HOST_CACHE_" in str(info.value)


def test_settings_defaults_and_off() -> None:
    assert host_cache.settings() == Settings(14, 10)
    assert host_cache.settings("", " ") == Settings(14, 10)
    assert host_cache.settings("Off", "0") == Settings(None, 0)
    assert host_cache.settings_from_env({host_cache.MAX_AGE_ENV: "0.5",
                                         host_cache.MIN_FREE_ENV: "25"}) == Settings(0.5, 25)


def test_an_unsafe_bundle_is_refused_before_anything_is_unpacked(cache: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../escape.py")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(HostCacheError, match=r"bundle k1 holds an unsafe entry: '../escape.py'"):
        host_cache.use(str(cache.parent), "k1", buffer.getvalue, report=lambda line: None)
    assert not (cache / "k1").exists() and not (cache.parent / "escape.py").exists()
