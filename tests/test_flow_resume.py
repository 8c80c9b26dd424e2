"""Resume after a failed step, after Ctrl-C and after SIGKILL of the runtime itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from flowlib import Flow, Run
from flowlib.exceptions import NotFoundError
from tests.support.backends import FLOWS


def _ledger(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_resume_reuses_what_succeeded(backend, tmp_path):
    ledger = tmp_path / "ledger"
    env = {"LEDGER": str(ledger), "FAIL_JOIN": "1"}
    proc = backend.run("resume_flow.py", "run", "--n", "4", env=env, expect=1)
    assert "join is broken" in proc.stderr
    assert sorted(_ledger(ledger)) == sorted(
        ["1 start", "1 work 0", "1 work 1", "1 work 2", "1 work 3", "1 join"]
    )
    backend.run("resume_flow.py", "resume", "--origin-run-id", "1", env={"LEDGER": str(ledger)})
    new_lines = [line for line in _ledger(ledger) if line.startswith("2 ")]
    assert new_lines == ["2 join", "2 end"]  # start and the four work tasks were cloned
    run = Run("ResumeFlow/2")
    assert run.successful and run.data is not None and run["join"].task.data.total == 14
    assert run.origin_pathspec == "ResumeFlow/1"
    assert run["work"].task.origin_pathspec.startswith("ResumeFlow/1/work/")
    assert run["start"].task.data.n == 4  # parameters come from the origin run


def test_resume_from_a_named_step_reruns_it_and_what_follows(backend, tmp_path):
    ledger = tmp_path / "ledger"
    backend.run("resume_flow.py", "run", "--n", "3", env={"LEDGER": str(ledger)})
    backend.run("resume_flow.py", "resume", "work", env={"LEDGER": str(ledger)})
    new_lines = sorted(line for line in _ledger(ledger) if line.startswith("2 "))
    assert new_lines == ["2 end", "2 join", "2 work 0", "2 work 1", "2 work 2"]


def test_resume_rejects_new_parameters_and_unknown_steps(backend, tmp_path):
    env = {"LEDGER": str(tmp_path / "ledger")}
    backend.run("resume_flow.py", "run", "--n", "2", env=env)
    proc = backend.run("resume_flow.py", "resume", "nope", env=env, expect=1)
    assert "'nope' is not a step of ResumeFlow" in proc.stderr
    proc = backend.run("resume_flow.py", "resume", "--origin-run-id", "42", env=env, expect=1)
    assert "run ResumeFlow/42 does not exist" in proc.stderr


def _start_run(backend, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(FLOWS / "resume_flow.py"), "run", *args],
        cwd=backend.workdir,
        env={**os.environ, **backend.env, "FLOWLIB_LAUNCHER": backend.launcher, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(ledger, predicate, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate(_ledger(ledger)):
            return
        time.sleep(0.05)
    raise AssertionError(f"ledger never reached the expected state: {_ledger(ledger)}")


def _wait_until(predicate, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError("the expected state was never reached")
        time.sleep(0.05)


def _start_succeeded(pathspec: str) -> bool:
    try:
        return Run(pathspec)["start"].task.successful
    except (NotFoundError, KeyError):  # the run or its start task is not recorded yet
        return False


def test_sigkill_of_the_runtime_then_resume_loses_nothing(backend, tmp_path):
    ledger = tmp_path / "ledger"
    env = {"LEDGER": str(ledger), "SLEEP": "0.4"}
    proc = _start_run(backend, env, "--n", "8", "--max-workers", "2")
    _wait_for(ledger, lambda lines: sum(line.startswith("1 work") for line in lines) >= 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(1.0)  # running tasks die with their runtime (parent-death signal), none goes on
    finished_before = {line for line in _ledger(ledger) if line.startswith("1 work")}
    assert 2 <= len(finished_before) < 8
    assert not Run("ResumeFlow/1").finished
    # A task killed between its ledger line and recording its outcome is not done: the tasks
    # recorded as succeeded are the ones resume may reuse.
    recorded = {f"work {t.index}" for t in Run("ResumeFlow/1")["work"] if t.successful}
    assert recorded <= {line.split(" ", 1)[1] for line in finished_before}

    backend.run(
        "resume_flow.py",
        "resume",
        "--origin-run-id",
        "1",
        env={"LEDGER": str(ledger), "SLEEP": "0"},
    )
    run = Run("ResumeFlow/2")
    assert run.successful and run["join"].task.data.total == sum(i * i for i in range(8))
    rerun = {line.split(" ", 1)[1] for line in _ledger(ledger) if line.startswith("2 work")}
    assert rerun.isdisjoint(recorded)  # what finished before was cloned, not recomputed
    assert rerun | recorded == {f"work {i}" for i in range(8)}
    assert len(list(run["work"].tasks())) == 8
    # No orphan of the killed runtime went on writing after it died.
    assert {line for line in _ledger(ledger) if line.startswith("1 work")} == finished_before


def test_ctrl_c_stops_cleanly_and_the_run_resumes(backend, tmp_path):
    ledger = tmp_path / "ledger"
    env = {"LEDGER": str(ledger), "SLEEP": "2"}
    proc = _start_run(backend, env, "--n", "4", "--max-workers", "2")
    _wait_for(ledger, lambda lines: "1 start" in lines)
    # Interrupt once start's outcome is recorded (the ledger line comes first, and on a loaded
    # machine recording it can take longer than any fixed pause), so resume has a task to reuse.
    _wait_until(lambda: _start_succeeded("ResumeFlow/1"))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "was interrupted" in err and "resume --origin-run-id 1" in err
    assert "Traceback" not in err
    run = Run("ResumeFlow/1")
    assert run.status == "interrupted"
    backend.run("resume_flow.py", "resume", env={"LEDGER": str(ledger), "SLEEP": "0"})
    assert Flow("ResumeFlow").latest_run.successful
    assert [line for line in _ledger(ledger) if line.startswith("2 start")] == []
