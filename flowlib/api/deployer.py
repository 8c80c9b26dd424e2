"""``Deployer``: deploy a flow file from Python (Metaflow's ``metaflow.Deployer``).

    from flowlib import Deployer

    deployed = Deployer("flow.py", profile="prod").step_functions().create()
    triggered = deployed.trigger(alpha=0.5)       # a TriggeredRun: .run, .status, .wait(),
                                                  # .terminate()
    triggered.wait()
    deployed.delete()

Each call runs the flow file's own ``step-functions`` command (``create``, ``trigger``,
``terminate``, ``delete``) in a subprocess, as Metaflow's Deployer does: one implementation of
deploying, whichever way it is driven, and the same messages on failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import Any

from flowlib.api.runner import Runner, RunnerError, cli_options
from flowlib.client import Run

_STARTED = re.compile(r"^Run (\S+)/(\S+) started on Step Functions \(execution (\S+)\)\.$",
                      re.MULTILINE)


class DeployerError(RunnerError):
    """A deployment command failed; the message holds its error output."""


class Deployer:
    """``Deployer(flow_file, profile=None, env=None, cwd=None)``; pick the orchestrator with
    ``.step_functions(name=None, branch=None, production=False, **create_options)``."""

    def __init__(self, flow_file: str | os.PathLike, profile: str | None = None,
                 env: dict[str, str] | None = None, cwd: str | os.PathLike | None = None
                 ) -> None:
        self._runner = Runner(flow_file, profile=profile, env=env, cwd=cwd)

    def step_functions(self, name: str | None = None, branch: str | None = None,
                       production: bool = False) -> StepFunctionsDeployer:
        return StepFunctionsDeployer(self._runner, name, branch, production)


class StepFunctionsDeployer:
    """Deploys to AWS Step Functions: ``create(**options)`` returns a ``DeployedFlow``
    (options as for ``step-functions create``: ``max_workers=``, ``workflow_timeout=``...)."""

    def __init__(self, runner: Runner, name: str | None, branch: str | None,
                 production: bool) -> None:
        self._runner = runner
        self.selector: list[str] = []
        if name:
            self.selector += ["--name", name]
        if branch:
            self.selector += ["--branch", branch]
        if production:
            self.selector.append("--production")

    def _call(self, verb: str, *args: str, timeout: float = 600) -> str:
        command = self._runner.command(["step-functions", verb, *self.selector, *args], {})
        proc = subprocess.run(command, cwd=self._runner.cwd, env=self._runner.environment(),  # noqa: S603
                              capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise DeployerError(f"step-functions {verb} of {self._runner.flow_file.name} "
                                f"failed (exit {proc.returncode}):\n{proc.stderr.strip()[-3000:]}")
        return proc.stdout

    def create(self, **options: Any) -> DeployedFlow:
        flags = [f"--{k.replace('_', '-')}" for k, v in options.items() if v is True]
        valued = {k: v for k, v in options.items() if not isinstance(v, bool)}
        output = self._call("create", *flags, *cli_options(valued))
        return DeployedFlow(self, output)


class DeployedFlow:
    """A flow deployed on Step Functions. ``trigger(**params)`` starts an execution and
    returns a ``TriggeredRun``; ``delete()`` removes what ``create`` made (runs stay);
    ``create_output`` is what ``create`` printed (its list of changes)."""

    def __init__(self, deployer: StepFunctionsDeployer, create_output: str) -> None:
        self._deployer = deployer
        self.create_output = create_output

    @property
    def flow_name(self) -> str:
        return self._deployer._runner.flow_name()

    def trigger(self, **params: Any) -> TriggeredRun:
        output = self._deployer._call("trigger", *cli_options(params))
        found = _STARTED.search(output)
        if found is None:
            raise DeployerError(f"step-functions trigger printed no run:\n{output}")
        flow, run_id, arn = found.groups()
        return TriggeredRun(self._deployer._runner, f"{flow}/{run_id}", arn, self._deployer)

    def delete(self) -> str:
        return self._deployer._call("delete", "--yes")


class TriggeredRun:
    """An execution started by ``DeployedFlow.trigger``: ``pathspec``, ``execution_arn``,
    ``run`` (the client ``Run``, there from the start), ``status`` (the execution's:
    ``RUNNING``, ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``ABORTED``), ``wait()`` and
    ``terminate()``."""

    def __init__(self, runner: Runner, pathspec: str, execution_arn: str,
                 deployer: StepFunctionsDeployer | None = None) -> None:
        self._runner = runner
        self._deployer = deployer
        self.pathspec = pathspec
        self.execution_arn = execution_arn

    @property
    def run(self) -> Run:
        self._runner._use_profile_here()
        return Run(self.pathspec)

    def _sfn(self) -> Any:
        from flowlib.config.aws import AwsContext
        from flowlib.stores import open_stores

        self._runner._use_profile_here()
        return AwsContext(open_stores().profile).client("stepfunctions")

    @property
    def status(self) -> str:
        return self._sfn().describe_execution(executionArn=self.execution_arn)["status"]

    def wait(self, timeout: float | None = None, poll: float = 1.0) -> TriggeredRun:
        """Block until the execution ends (``TimeoutError`` after ``timeout`` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.status == "RUNNING":
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{self.pathspec} still running after {timeout:g} s")
            time.sleep(poll)
        return self

    def terminate(self) -> bool:
        """Stop the run (``step-functions terminate``): its execution and its Batch jobs; the
        run then shows as crashed. True when done; a run that cannot be terminated (already
        ended, ...) raises ``DeployerError`` with the command's one-line reason (Metaflow
        returns False there)."""
        if self._deployer is None:
            raise DeployerError(f"{self.pathspec}: terminate needs the deployment that "
                                "triggered it (DeployedFlow.trigger).")
        self._deployer._call("terminate", self.pathspec)
        return True

    def __repr__(self) -> str:
        return f"<TriggeredRun {self.pathspec} {self.execution_arn}>"
