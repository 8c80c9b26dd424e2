"""The container's command: runs the bootstrap and keeps stdout and stderr apart in the pod log.

    python -m flowlib.remote.kubernetes.entry --flow F --package KEY --expect-version V -- step ...

Kubernetes merges a container's stdout and stderr into one log, but flowlib stores and shows
them apart (``task.stdout`` / ``task.stderr``, ``logs --stderr``). So this wrapper runs the
bootstrap (``flowlib.remote.bootstrap``, in a forked child) with two pipes and writes every
line to its own stdout: stdout lines as they are, stderr lines after the marker
``ESC_STDERR`` (an ASCII record separator and "2 "; a stdout line that happens to start with
the separator is escaped with "1 "). ``kubectl logs`` stays readable; the launcher splits
the log back with :class:`LogDemux`. The exit status passes through; a child killed by a
signal kills the wrapper with the same signal, so the pod's exit code (128 + n) says which.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

SEPARATOR = b"\x1e"
ESC_STDOUT = SEPARATOR + b"1 "
ESC_STDERR = SEPARATOR + b"2 "


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    pid = os.fork()  # not a new interpreter: the bootstrap execs into the step's own anyway
    if pid == 0:  # pragma: no cover - the child, measured through its output
        code = 1
        try:
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (out_r, err_r, out_w, err_w):
                os.close(fd)
            from flowlib.remote import bootstrap

            code = bootstrap.main(args)
        finally:
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: os.kill(pid, signum))
    lock = threading.Lock()
    out = sys.stdout.buffer

    def pump(fd: int, prefix: bytes) -> None:
        with os.fdopen(fd, "rb") as stream:
            for line in iter(stream.readline, b""):
                if not prefix and line.startswith(SEPARATOR):
                    line = ESC_STDOUT + line
                with lock:
                    out.write(prefix + line)
                    out.flush()

    threads = [
        threading.Thread(target=pump, args=(out_r, b""), daemon=True),
        threading.Thread(target=pump, args=(err_r, ESC_STDERR), daemon=True),
    ]
    for thread in threads:
        thread.start()
    _, status = os.waitpid(pid, 0)
    for thread in threads:
        thread.join()
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    return os.WEXITSTATUS(status)


class LogDemux:
    """Splits the wrapper's merged log back into stdout and stderr bytes, line by line.

    Feed it chunks in order; a line cut between chunks is kept until its end arrives.
    ``flush()`` returns a last line without a newline.
    """

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, chunk: bytes) -> list[tuple[str, bytes]]:
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        return [self._route(line + b"\n") for line in lines]

    def flush(self) -> list[tuple[str, bytes]]:
        if not self._partial:
            return []
        rest, self._partial = self._partial, b""
        return [self._route(rest)]

    @staticmethod
    def _route(line: bytes) -> tuple[str, bytes]:
        if line.startswith(ESC_STDERR):
            return "stderr", line[len(ESC_STDERR):]
        if line.startswith(ESC_STDOUT):
            return "stdout", line[len(ESC_STDOUT):]
        return "stdout", line


if __name__ == "__main__":
    sys.exit(main())
