"""Hide secret values in what a task prints: best effort, at the Python level.

What is covered: everything written through ``sys.stdout`` and ``sys.stderr`` of the task
process (``print``, ``logging`` handlers created on those streams, tracebacks flowlib writes),
and the error message and traceback flowlib records for a failed attempt. Output is masked
line by line, before it leaves the process, so the streamed console, the stored logs and
CloudWatch all see the masked text.

What is not: output written straight to file descriptors 1 and 2 (subprocesses, C
extensions), a value split across lines by the printer, values shorter than
``MIN_MASKED_LENGTH`` characters (masking ``1`` or ``true`` everywhere would garble the logs),
and encodings of a value (base64, URL-quoting). Masking is a safety net, not a reason to
print secrets.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any, TextIO

MASK = "****"
MIN_MASKED_LENGTH = 4


class Masker:
    """Replaces every known secret value (and each line of a multi-line one) in text."""

    def __init__(self, values: Iterable[str]) -> None:
        needles: set[str] = set()
        for value in values:
            for piece in (value, *value.splitlines()):
                piece = piece.strip()
                if len(piece) >= MIN_MASKED_LENGTH:
                    needles.add(piece)
        # Longest first, so a value that contains another is masked whole.
        self.needles = sorted(needles, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.needles)

    def mask(self, text: str) -> str:
        for needle in self.needles:
            if needle in text:
                text = text.replace(needle, MASK)
        return text

    def mask_record(self, record: Any) -> Any:
        """Mask every string inside a JSON-like value (an error record)."""
        if isinstance(record, str):
            return self.mask(record)
        if isinstance(record, dict):
            return {k: self.mask_record(v) for k, v in record.items()}
        if isinstance(record, list):
            return [self.mask_record(v) for v in record]
        return record


class MaskingStream(io.TextIOBase):
    """A text stream that masks complete lines before passing them to ``target``.

    A partial line is held until its newline or an explicit ``flush`` so that a value printed
    in several ``write`` calls is still seen whole.
    """

    def __init__(self, target: TextIO, masker: Masker) -> None:
        self.target = target
        self.masker = masker
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            complete, _, self._pending = self._pending.rpartition("\n")
            self.target.write(self.masker.mask(complete + "\n"))
            if getattr(self.target, "line_buffering", False):
                self.target.flush()
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.target.write(self.masker.mask(self._pending))
            self._pending = ""
        self.target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", "utf-8")

    @property
    def buffer(self) -> Any:
        return self.target.buffer
