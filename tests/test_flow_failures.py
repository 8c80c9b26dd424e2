"""Bad input and faults: each gives one clear message and a non-zero exit, and only the
failing task fails."""

from __future__ import annotations

import pytest

from flowlib import Flow


def _tail(stderr: str) -> str:
    """The runtime's own closing message (task output above it may hold tracebacks)."""
    return stderr[stderr.rfind("CrashFlow:") :]


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("raise", "ValueError: the model diverged"),
        ("exit", "exited with code 7 before the step finished"),
        ("segfault", "segmentation fault (SIGSEGV)"),
        ("sigkill", "killed by SIGKILL"),
        ("unpicklable", "Artifact 'lock' of step 'bad'"),
    ],
)
def test_a_failing_step_fails_only_its_task(backend, how, expected):
    proc = backend.run("crash_flow.py", "run", "--how", how, "--max-workers", "1", expect=1)
    tail = _tail(proc.stderr)
    assert expected in tail and "step 'bad'" in tail
    assert "Traceback" not in tail and "resume --origin-run-id" in tail
    run = Flow("CrashFlow").latest_run
    assert not run.successful and run.finished
    bad = run["bad"].task
    assert not bad.successful and expected.split(" (")[0] in str(bad.exception)
    assert "join" not in run  # nothing after the failure ran
    if "good" in run:
        assert run["good"].task.successful


def test_unpicklable_artifact_names_the_attribute(backend):
    proc = backend.run("crash_flow.py", "run", "--how", "unpicklable", expect=1)
    assert "Artifact 'lock' of step 'bad'" in proc.stderr
    assert "cannot pickle" in proc.stderr and "name the attribute '_lock'" in proc.stderr


def test_wrong_parameter_types_are_reported_per_parameter(backend):
    proc = backend.run(
        "linear_flow.py",
        "run",
        "--count",
        "many",
        "--ratio",
        "x",
        "--flag",
        "maybe",
        "--config",
        "{not json",
        expect=2,
    )
    for name, kind in [("count", "int"), ("ratio", "float"), ("flag", "bool"), ("config", "JSON")]:
        assert f"Parameter '{name}' expects {kind}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (
        not (backend.workdir / "store" / "LinearFlow").exists()
        or next(iter(Flow("LinearFlow").runs()), None) is None
    )


def test_unknown_option(backend):
    proc = backend.run("linear_flow.py", "run", "--colour", "red", expect=2)
    assert "No such option '--colour'" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_command(backend):
    proc = backend.run("linear_flow.py", "fly", expect=2)
    assert "No such command 'fly'" in proc.stderr


def test_missing_include_file(backend, tmp_path):
    proc = backend.run("linear_flow.py", "run", "--notes", str(tmp_path / "nope.txt"), expect=2)
    assert "IncludeFile 'notes': cannot read" in proc.stderr and "Traceback" not in proc.stderr


def test_merge_conflict_is_refused(backend):
    proc = backend.run("merge_conflict_flow.py", "run", expect=1)
    assert "artifacts score have different values" in proc.stderr
    assert "exclude=" in proc.stderr


def test_unknown_with_decorator(backend):
    proc = backend.run("branch_flow.py", "run", "--with", "retyr", expect=1)
    assert "unknown decorator 'retyr'" in proc.stderr and "Traceback" not in proc.stderr


def test_too_many_splits(backend):
    proc = backend.run("foreach_flow.py", "run", "--width", "5", "--max-num-splits", "4", expect=1)
    assert "more than --max-num-splits 4" in proc.stderr and "--max-num-splits 5" in proc.stderr


def test_invalid_flow_graph_via_check(backend):
    proc = backend.run("invalid/unknown_target.py", "run", expect=1)
    assert "problem" in proc.stderr and "Traceback" not in proc.stderr


def test_client_errors_are_clear(backend):
    backend.run("branch_flow.py", "run")
    from flowlib import Run, Task
    from flowlib.exceptions import FlowlibError, NotFoundError

    with pytest.raises(NotFoundError, match="does not exist"):
        Run("BranchFlow/99")
    with pytest.raises(NotFoundError, match="has no runs"):
        Flow("NoSuchFlow")
    with pytest.raises(FlowlibError, match="expected a pathspec"):
        Task("BranchFlow/1")


def test_a_store_failing_while_a_forked_task_records_its_outcome_is_one_line(monkeypatch):
    """The fork launcher's child: a store error escaping the task (an outage longer than
    store_retry_seconds while recording the outcome) is reported in one line, no traceback."""
    import os
    import sys

    from flowlib.exceptions import MetadataError
    from flowlib.runtime.launcher import ForkLauncher
    from flowlib.runtime.spec import TaskSpec

    def execute(spec):
        raise MetadataError("dynamodb:TransactWriteItems on table 't' failed: ServiceUnavailable")

    # The child writes to file descriptors 1 and 2, which it points at its pipes: give it the
    # real streams, not pytest's in-memory capture.
    monkeypatch.setattr(sys, "stdout", sys.__stdout__)
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    launcher = ForkLauncher(execute)
    worker = launcher.launch(TaskSpec("F", "1", "start", "1", 0, [], []))
    (err_fd,) = [fd for fd, name in worker.fds.items() if name == "stderr"]
    stderr = b""
    while chunk := os.read(err_fd, 65536):
        stderr += chunk
    for fd in worker.fds:
        os.close(fd)
        launcher.closed(fd)
    worker.poll(block=True)
    assert worker.exit_description == (1, None)
    assert stderr.decode() == ("flowlib: dynamodb:TransactWriteItems on table 't' failed: "
                               "ServiceUnavailable\n")
