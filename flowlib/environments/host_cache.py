"""The host cache: bundles unpacked once per machine, shared by its jobs, pruned when unused.

On AWS Batch every job of an instance sees one host folder (profile ``batch_host_cache``,
default ``/var/cache/flowlib``; ``FLOWLIB_ENVIRONMENTS_DIR`` in the container). Its
``bundles/`` holds one folder per unpacked bundle, named by the bundle's blob key: flowlib's
runtime bundle (stage 0) and each ``@pypi``/``@conda`` environment
(``flowlib.environments.remote``). This module is the one place that fills, marks and prunes
it. Standard library only: stage 0 runs it before anything else can be imported
(``flowlib.remote.runtime`` ships its source beside stage 0's in the container command).

``bundles/`` for a bundle ``KEY``:

* ``KEY/``: the unpacked bundle, complete when it holds ``flowlib-environment.json`` (it
  appears by renaming a finished temporary folder, so it is never half there). The mtime of
  ``KEY/.flowlib-last-used`` is when a job last started using it, refreshed at most once an
  hour (``STAMP_EVERY``), so a thousand jobs starting together do not all write.
* ``KEY.use``: the use lock. A job holds a shared ``flock`` on it from before it looks at the
  entry until the job ends: the descriptor is inheritable, so it stays open through stage 0's
  and the bootstrap's ``exec`` into the task.
* ``KEY.lock``: the unpack lock (exclusive, while one job downloads and unpacks the bundle;
  the others wait, then find it).
* ``.KEY.PID.tmp``: an unpack in progress; ``.trash-KEY-*``: an entry being deleted.

``prune`` runs when a job is about to unpack an entry (no daemon, nothing added to jobs that
find their entries). It removes the entries unused for ``max_age_days`` (default 14), then,
while the filesystem has less free space than ``min_free_percent`` of its size (default 10)
plus what the new entry needs, the least recently used ones; it also clears what interrupted
unpacks and deletions left. Why no job ever uses a half-deleted entry:

1. The pruner deletes an entry only while holding an exclusive lock on ``KEY.use``, asked for
   without waiting (``LOCK_NB``): an entry any job holds (its shared lock) is skipped. The
   entries the pruning job itself needs are never candidates either.
2. Under that lock it renames ``KEY/`` to a trash name and removes the lock files; only after
   releasing the lock does it delete the trash. A job finds the whole entry (and then holds it,
   so it stays whole) or no entry, and unpacks it again.
3. A job that took its shared lock checks that the file it locked is still ``KEY.use`` (same
   inode): one that waited on a lock file the pruner has just removed starts over.

An entry an older flowlib unpacked has no last-used mark (and older jobs take no use lock):
the first prune that sees it marks it used then, so it is kept for a full ``max_age_days``.
"""

from __future__ import annotations

import fcntl
import io
import math
import os
import shutil
import sys
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

MARKER = "flowlib-environment.json"  # flowlib.environments.record.RECORD_FILE: entry complete
STAMP = ".flowlib-last-used"
STAMP_EVERY = 3600.0
MAX_AGE_ENV = "FLOWLIB_BATCH_HOST_CACHE_MAX_AGE_DAYS"
MIN_FREE_ENV = "FLOWLIB_BATCH_HOST_CACHE_MIN_FREE_PERCENT"
DEFAULT_MAX_AGE_DAYS = 14.0
DEFAULT_MIN_FREE_PERCENT = 10.0
DAY = 86400.0

_HELD: list[int] = []  # this process's use locks: open until it and what it execs end


class HostCacheError(ValueError):
    """A bad pruning setting, or a bundle that cannot be unpacked safely (one line)."""


class Settings(NamedTuple):
    max_age_days: float | None  # None: never removed for age
    min_free_percent: float  # 0: no free-space floor


class Removed(NamedTuple):
    key: str
    size: int  # bytes on disk
    why: str


def settings(max_age_days: object = None, min_free_percent: object = None) -> Settings:
    """Validated settings from the profile's (or environment's) raw values; None or "" means
    the default. Raises HostCacheError saying what is wrong and how to fix it."""
    age = _number(max_age_days, DEFAULT_MAX_AGE_DAYS)
    if age is not None and age <= 0 or age is None and str(max_age_days).strip().lower() != "off":
        raise HostCacheError(
            f"batch_host_cache_max_age_days is {max_age_days!r}: it must be a number of days "
            f"greater than 0 (default {DEFAULT_MAX_AGE_DAYS:g}), or 'off' to remove no entry "
            f"for its age (profile key batch_host_cache_max_age_days or {MAX_AGE_ENV}).")
    floor = _number(min_free_percent, DEFAULT_MIN_FREE_PERCENT)
    if floor is None or not 0 <= floor < 100:
        raise HostCacheError(
            f"batch_host_cache_min_free_percent is {min_free_percent!r}: it must be the "
            f"percentage of the host cache's disk to keep free, from 0 (no floor) to 99 "
            f"(default {DEFAULT_MIN_FREE_PERCENT:g}) (profile key "
            f"batch_host_cache_min_free_percent or {MIN_FREE_ENV}).")
    return Settings(age, floor)


def settings_from_env(environ: Mapping[str, str]) -> Settings:
    return settings(environ.get(MAX_AGE_ENV), environ.get(MIN_FREE_ENV))


def _number(raw: object, default: float) -> float | None:
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = float(str(raw))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def disk_space(path: str) -> tuple[int, int]:
    """(free, total) bytes of the filesystem holding ``path`` (what unprivileged users get)."""
    usage = shutil.disk_usage(path)
    return usage.free, usage.total


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- using an entry --------------------------------------------------------------------------
def use(base: str, key: str, load: Callable[[], bytes],
        report: Callable[[str], None] = _stderr, environ: Mapping[str, str] | None = None,
        free_space: Callable[[str], tuple[int, int]] = disk_space, pruning: bool = True) -> str:
    """The folder of bundle ``key`` in the host cache ``base`` (``FLOWLIB_ENVIRONMENTS_DIR``),
    held (shared use lock) until this process and the programs it execs end.

    If no job of this host unpacked it yet, ``load()`` gives the bundle (a tar, gzip'd or not,
    verified by the caller), the cache is pruned (unless ``pruning`` is off: a container's own
    folder, which dies with it; one line to ``report``; the settings come from ``environ``),
    then the bundle is unpacked to a temporary folder renamed into place. Raises
    HostCacheError when the tar holds anything but plain relative files."""
    folder = os.path.join(base, "bundles")
    os.makedirs(folder, exist_ok=True)
    hold(folder, key)
    final = os.path.join(folder, key)
    if complete(final):
        mark_used(final)
        return final
    with open(os.path.join(folder, f"{key}.lock"), "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if complete(final):
            mark_used(final)
            return final
        data = load()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            members = tar.getmembers()
            for member in members:
                parts = member.name.split("/")
                if member.name.startswith("/") or ".." in parts or not member.isfile():
                    raise HostCacheError(
                        f"bundle {key} holds an unsafe entry: {member.name!r}")
            for name in os.listdir(folder):  # unpacks of this bundle that died: we hold its lock
                if name.startswith(f".{key}.") and name.endswith(".tmp"):
                    shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
            if pruning:
                limits = os.environ if environ is None else environ
                try:
                    prune(folder, settings_from_env(limits), keep=(key,),
                          need=sum(m.size for m in members), report=report,
                          free_space=free_space)
                except (HostCacheError, OSError) as exc:  # pruning never stops a job
                    report(f"flowlib: host cache {folder} not pruned: {exc}")
            tmp = os.path.join(folder, f".{key}.{os.getpid()}.tmp")
            try:
                tar.extractall(tmp)  # noqa: S202 - every member was checked above
                _touch(os.path.join(tmp, STAMP))
                os.rename(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def hold(folder: str, key: str) -> int:
    """Take (and keep, inheritable across ``exec``) a shared lock on entry ``key``'s use lock
    file; its descriptor. While it is held no pruner deletes the entry."""
    path = os.path.join(folder, f"{key}.use")
    for _ in range(1000):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(fd, fcntl.LOCK_SH)
        if _is_current(fd, path):
            os.set_inheritable(fd, True)
            _HELD.append(fd)
            return fd
        os.close(fd)  # a pruner removed the file we waited on: lock the new one
    raise HostCacheError(  # no pruner is that fast: the filesystem's inode numbers are unstable
        f"cannot lock {path}: the file changes identity on every look; put the host cache "
        "(batch_host_cache) on a local filesystem")


def complete(entry: str) -> bool:
    return os.path.exists(os.path.join(entry, MARKER))


def mark_used(entry: str, now: float | None = None) -> None:
    """Refresh the entry's last-used mark if it is older than ``STAMP_EVERY`` (one ``stat``
    otherwise)."""
    now = time.time() if now is None else now
    try:
        if now - os.stat(os.path.join(entry, STAMP)).st_mtime < STAMP_EVERY:
            return
    except OSError:
        pass
    _touch(os.path.join(entry, STAMP))


def last_used(entry: str, now: float | None = None) -> float:
    """When a job last started using ``entry``; an entry with no mark (unpacked by an older
    flowlib) is marked used ``now``."""
    now = time.time() if now is None else now
    try:
        return os.stat(os.path.join(entry, STAMP)).st_mtime
    except FileNotFoundError:
        _touch(os.path.join(entry, STAMP))
        return now


def _touch(path: str) -> None:
    try:
        with open(path, "a"):
            pass
        os.utime(path)
    except OSError:
        pass  # a mark is advice: a read-only or vanished entry is still usable


def _is_current(fd: int, path: str) -> bool:
    mine = os.fstat(fd)
    try:
        there = os.stat(path)
    except FileNotFoundError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


# -- pruning ---------------------------------------------------------------------------------
def prune(folder: str, limits: Settings, keep: Iterable[str] = (), need: int = 0,
          report: Callable[[str], None] = _stderr,
          free_space: Callable[[str], tuple[int, int]] = disk_space,
          now: float | None = None) -> list[Removed]:
    """Remove the entries of ``folder`` (a host cache's ``bundles/``) unused for longer than
    ``limits.max_age_days``, then, while its filesystem has less than
    ``limits.min_free_percent`` free once ``need`` more bytes are written, the least recently
    used; never an entry of ``keep`` or one a job holds. One line to ``report``; the removed
    entries (oldest first)."""
    now = time.time() if now is None else now
    keep = set(keep)
    leftovers = _clear_leftovers(folder)
    entries: dict[str, float] = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not name.startswith(".") and name not in keep and complete(path):
            entries[name] = last_used(path, now)
    by_age = sorted(entries, key=lambda k: (entries[k], k))
    removed: list[Removed] = []
    busy: set[str] = set()

    def remove(key: str, why: str) -> None:
        size = evict(folder, key)
        if size is None:
            busy.add(key)
        else:
            removed.append(Removed(key, size, why))

    if limits.max_age_days is not None:
        cutoff = now - limits.max_age_days * DAY
        for key in by_age:
            if entries[key] < cutoff:
                remove(key, f"unused for {(now - entries[key]) / DAY:.0f} days")
    free, total = free_space(folder)
    floor = total * limits.min_free_percent / 100
    gone = {r.key for r in removed}
    for key in by_age:
        if free - need >= floor:
            break
        if key not in busy and key not in gone:
            remove(key, "least recently used")
            free, total = free_space(folder)
    report(_summary(folder, removed, leftovers, len(entries) - len(removed), busy,
                    free, total, need, floor, limits))
    return removed


def evict(folder: str, key: str) -> int | None:
    """Delete entry ``key`` unless a job holds it (None then); the bytes it took."""
    use_path = os.path.join(folder, f"{key}.use")
    fd = os.open(use_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        final = os.path.join(folder, key)
        if not _is_current(fd, use_path) or not complete(final):
            return None  # another pruner got there first
        size = disk_bytes(final)  # here: another pruner may clear the trash below
        trash = os.path.join(folder, f".trash-{key}-{os.urandom(4).hex()}")
        os.rename(final, trash)
        _unlink_unheld(os.path.join(folder, f"{key}.lock"))
        os.unlink(use_path)
    finally:
        os.close(fd)
    shutil.rmtree(trash, ignore_errors=True)
    return size


def _unlink_unheld(path: str) -> None:
    """Remove a lock file nobody holds (an older flowlib may be unpacking under it)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.unlink(path)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)


def _clear_leftovers(folder: str) -> int:
    """Delete the trash of interrupted deletions and the temporary folders of unpacks whose
    job died (nobody holds their unpack lock); the bytes freed."""
    freed = 0
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        if name.startswith(".trash-"):
            freed += disk_bytes(path)
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith(".") and name.endswith(".tmp") and name.count(".") == 3:
            key, pid, _ = name[1:].split(".")
            if not pid.isdigit():
                continue
            try:
                fd = os.open(os.path.join(folder, f"{key}.lock"), os.O_RDWR)
            except FileNotFoundError:
                fd = None
            try:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                freed += disk_bytes(path)
                shutil.rmtree(path, ignore_errors=True)
            except BlockingIOError:
                pass  # being unpacked right now
            finally:
                if fd is not None:
                    os.close(fd)
    return freed


def disk_bytes(path: str) -> int:
    """Bytes the files and folders under ``path`` take on disk (like ``du``)."""
    total = 0
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def _size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""  # pragma: no cover


def _summary(folder: str, removed: list[Removed], leftovers: int, kept: int, busy: set[str],
             free: int, total: int, need: int, floor: float, limits: Settings) -> str:
    freed = sum(r.size for r in removed) + leftovers
    parts = [f"flowlib: host cache {folder}:"]
    if removed:
        what = "; ".join(f"{r.key[:12]} {r.why}, {_size(r.size)}" for r in removed)
        parts.append(f"removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'} "
                     f"({what}),")
    else:
        parts.append("removed no entry,")
    if leftovers:
        parts.append(f"cleared {_size(leftovers)} left by interrupted unpacks and deletions,")
    parts.append(f"{_size(freed)} freed; kept {kept}"
                 + (f" ({len(busy)} in use)" if busy else "")
                 + f", {100 * free / total if total else 0:.0f}% of {_size(total)} free")
    if free - need < floor:
        parts[-1] += (f"; still under the {limits.min_free_percent:g}% floor with the "
                      f"{_size(need)} to unpack (nothing else can go: in use or needed now)")
    return " ".join(parts) + "."
