"""Cost-allocation tags on what the Batch and Kubernetes backends submit (the submit arguments;
the flows in tests/remote check the same tags on jobs really submitted)."""

from __future__ import annotations

from flowlib.remote.batch.jobs import job_tags
from flowlib.remote.kubernetes.jobs import job_labels
from flowlib.runtime.spec import TaskSpec


def spec(tags: list[str]) -> TaskSpec:
    return TaskSpec("TrainFlow", "42", "train", "7", 1, [], [], tags=tags)


def test_batch_job_tags_name_flow_run_step_project_user():
    tags = job_tags(spec(["project:churn", "other"]), "alice")
    assert {k: tags[k] for k in ("flowlib:flow", "flowlib:run", "flowlib:step",
                                 "flowlib:project", "flowlib:user")} == {
        "flowlib:flow": "TrainFlow", "flowlib:run": "42", "flowlib:step": "train",
        "flowlib:project": "churn", "flowlib:user": "alice"}
    assert job_tags(spec([]), "alice")["flowlib:project"] == "none"


def test_kubernetes_pod_labels_name_flow_run_step_project_user():
    labels = job_labels(spec(["project:churn"]), "alice", "store1")
    named = {k.split("/", 1)[1]: v for k, v in labels.items()}
    assert {k: named[k] for k in ("flow", "run", "step", "project", "user")} == {
        "flow": "TrainFlow", "run": "42", "step": "train", "project": "churn", "user": "alice"}
