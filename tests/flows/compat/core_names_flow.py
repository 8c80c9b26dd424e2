"""Metaflow names its own core tests rely on (bench/metaflow_core.py): class constants refused
with AttributeError, @project's current fields and tags, metaflow.exception's classes,
current.task / current.run / current.namespace and the private self._current_step."""

from flowlib import FlowSpec, current, project, retry, step
from flowlib.exception import (
    MetaflowException,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
)
from flowlib.metaflow_current import current as metaflow_current


@project(name="core_names")
class CoreNamesFlow(FlowSpec):
    LIMIT = 3

    @step
    def start(self):
        try:
            self.LIMIT = 4
        except AttributeError:
            self.assign_refused = True
        self.project = [current.project_name, current.branch_name, current.project_flow_name,
                        current.is_production, current.is_user_branch]
        self.same_current = metaflow_current is current
        self.seen = [self._current_step, current.task.pathspec, current.run.pathspec,
                     current.namespace, current.tags]
        self.next(self.left, self.right)

    @step
    def fan(self):
        self.items = ["a", "b"]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.frames = [(f.step, f.var, f.index) for f in self._foreach_stack]
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.frames = sorted(f for i in inputs for f in i.frames)
        self.next(self.end)

    @retry(times=1, minutes_between_retries=0)
    @step
    def left(self):
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.x = 1
        self.common = "same"
        self.next(self.join)

    @step
    def right(self):
        self.x = 2
        self.common = "same"
        self.next(self.join)

    @step
    def join(self, inputs):
        try:
            self.merge_artifacts(inputs)
        except UnhandledInMergeArtifactsException as exc:
            self.conflicts = exc.artifact_names
        try:
            self.merge_artifacts(inputs, include=["absent"])
        except MissingInMergeArtifactsException as exc:
            self.missing_is_metaflow_exception = isinstance(exc, MetaflowException)
        self.merge_artifacts(inputs, exclude=["x"])
        self.next(self.fan)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CoreNamesFlow()
