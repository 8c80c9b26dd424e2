"""Container entry of an array job's child: pick this child's task, then run the bootstrap.

    python -m flowlib.remote.batch.entry -- --flow F ... -- step S --task-id @array ...

Every child of an array job runs the same command; ``FLOWLIB_BATCH_ARRAY_TASKS`` lists the
task ids in child order and ``AWS_BATCH_JOB_ARRAY_INDEX`` says which child this is (AWS also
names a child's job id ``<parent>:<index>``, used when the index variable is absent).
"""

from __future__ import annotations

import os
import sys

from flowlib.remote.batch.jobs import ARRAY_PLACEHOLDER, ARRAY_TASKS_ENV


def array_index(environ: dict[str, str]) -> int:
    raw = environ.get("AWS_BATCH_JOB_ARRAY_INDEX")
    if raw is None:
        job_id = environ.get("AWS_BATCH_JOB_ID", "")
        raw = job_id.rpartition(":")[2] if ":" in job_id else None
    if raw is None:
        raise SystemExit("flowlib: not a child of an AWS Batch array job (no array index)")
    return int(raw)


def resolve(argv: list[str], environ: dict[str, str]) -> list[str]:
    """The bootstrap arguments with this child's task id in place of the placeholder."""
    tasks = environ.get(ARRAY_TASKS_ENV, "").split(",")
    index = array_index(environ)
    if not 0 <= index < len(tasks) or not tasks[index]:
        raise SystemExit(f"flowlib: array index {index} has no task in {ARRAY_TASKS_ENV}")
    args = argv[1:] if argv[:1] == ["--"] else list(argv)
    return [tasks[index] if a == ARRAY_PLACEHOLDER else a for a in args]


def main(argv: list[str] | None = None) -> int:
    from flowlib.remote import bootstrap

    return bootstrap.main(resolve(sys.argv[1:] if argv is None else argv, dict(os.environ)))


if __name__ == "__main__":
    sys.exit(main())
