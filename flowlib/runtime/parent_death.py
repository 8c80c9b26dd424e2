"""Local task processes die with the runtime that started them.

Each task attempt runs in its own process group (so the runtime can signal a task and
everything it started). If the runtime itself dies without cleaning up (kill -9, the
out-of-memory killer, a crash of the interpreter), its tasks used to live on as orphans and later
wrote into a run already reported dead. Linux's ``PR_SET_PDEATHSIG`` makes the kernel send a
signal to a process when its parent dies; a task asks for SIGKILL right after it starts, then
checks that its parent is still the runtime (the parent may have died before the request, and
the kernel only watches from then on).

The flag belongs to the thread that forked the child: the scheduler launches tasks from the
runtime's main thread, whose end is the runtime's end. On other systems this is a no-op and an
orphaned task ends when it next fails to reach its stores.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PARENT_ENV = "FLOWLIB_RUNTIME_PID"  # set for tasks started as fresh interpreters
_PR_SET_PDEATHSIG = 1


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def die_with_parent(parent_pid: int) -> bool:
    """Have the kernel SIGKILL this process when ``parent_pid`` (our parent) ends; exit at once
    if it already has. Returns False where the platform has no such facility."""
    libc = _libc()
    if libc is None:
        return False
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent_pid:
        os._exit(1)  # the runtime died before we asked; nobody would read our outcome
    return True


def die_with_launching_runtime() -> None:
    """For the standalone step command: die with the local runtime that launched it, if any
    (remote tasks have no such runtime and are not affected)."""
    value = os.environ.get(PARENT_ENV)
    if value and value.isdigit():
        os.environ.pop(PARENT_ENV, None)  # not inherited by the step's own subprocesses
        die_with_parent(int(value))
