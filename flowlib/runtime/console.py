"""Runtime output: task lines prefixed with the task's pathspec, runtime messages on stderr."""

from __future__ import annotations

import sys
import time


class Console:
    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._start = time.time()

    def task_line(self, pathspec: str, stream: str, line: bytes) -> None:
        text = line.decode("utf-8", errors="replace")
        target = sys.stderr if stream == "stderr" else sys.stdout
        target.write(f"[{pathspec}] {text}\n")

    def task_event(self, pathspec: str, message: str) -> None:
        if not self.quiet:
            sys.stdout.write(f"[{pathspec}] {message}\n")

    def info(self, message: str) -> None:
        if not self.quiet:
            sys.stdout.write(f"{message}\n")

    def warn(self, message: str) -> None:
        sys.stderr.write(f"{message}\n")

    def flush(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()

    @property
    def elapsed(self) -> float:
        return time.time() - self._start
