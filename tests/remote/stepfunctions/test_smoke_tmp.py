from tests.remote.stepfunctions.conftest import *  # noqa
def test_smoke(sfn_backend):
    p = sfn_backend.run("linear_flow.py", "step-functions", "create")
    print(p.stdout, p.stderr)
    p = sfn_backend.run("linear_flow.py", "step-functions", "trigger", "--wait", expect=None, timeout=300)
    print(p.stdout, p.stderr)
    assert p.returncode == 0
