"""``Deployer(...).step_functions().create()`` on the Step Functions test bed (moto): the
deployed flow triggers a run that really executes, then ``delete`` removes the deployment."""

from __future__ import annotations

from tests.remote.stepfunctions.conftest import REPO
from tests.support.backends import Backend

FLOW = REPO / "tests" / "flows" / "remote" / "sfn_scheduled_flow.py"


def test_deployer_creates_triggers_and_deletes(sfn_stack, sfn_backend: Backend) -> None:  # noqa: ANN001
    from flowlib import Deployer
    from flowlib.api.deployer import DeployerError

    deployed = Deployer(FLOW, profile="sfn-test", cwd=sfn_backend.workdir).step_functions(
        branch="api").create(max_workers=4)
    assert "created state machine" in deployed.create_output
    triggered = deployed.trigger(alpha=3)
    assert triggered.run.id == triggered.pathspec.split("/")[1]  # there before it ends
    assert triggered.wait(timeout=300).status == "SUCCEEDED"
    run = triggered.run
    assert run.successful and run["start"].task.data.doubled == 6
    assert "trigger:manual" in run.system_tags
    try:  # an ended run: the command's one-line reason (terminate itself: test_sfn_terminate)
        triggered.terminate()
    except DeployerError as exc:
        assert "has already ended, its execution SUCCEEDED: succeeded. Nothing to " \
               "terminate." in str(exc) and "Traceback" not in str(exc)
    else:
        raise AssertionError("terminate of an ended run should fail")
    deployed.delete()
    machines = sfn_stack.client("stepfunctions").list_state_machines()["stateMachines"]
    assert not [m for m in machines if m["name"].endswith("churn-test_api-ScheduledFlow")]
    try:
        deployed.trigger()
    except DeployerError as exc:
        assert "not deployed" in str(exc) and "Traceback" not in str(exc)
    else:
        raise AssertionError("trigger after delete should fail")
