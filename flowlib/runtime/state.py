"""What a running task binds to its flow object: artifact refs, foreach frames, the transition."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from flowlib.datastore.artifacts import ArtifactRef, ArtifactStore
from flowlib.flowspec import Transition

_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), frozenset)


@dataclass(frozen=True)
class ForeachFrame:
    """One level of foreach: which split, over which artifact, and this task's place in it."""

    step: str
    var: str
    num_splits: int
    index: int
    split_task: str  # pathspec of the task whose artifact ``var`` holds the values

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForeachFrame:
        return cls(**data)


class TaskState:
    """Artifact bookkeeping of one task attempt, shared by the flow object and the executor."""

    def __init__(
        self,
        step_name: str,
        pathspec: str,
        artifacts: ArtifactStore,
        inherited: dict[str, ArtifactRef],
        frames: list[ForeachFrame],
        is_join: bool,
        split_values: Callable[[ForeachFrame], Any],
    ) -> None:
        self.step_name = step_name
        self.pathspec = pathspec
        self.artifacts = artifacts
        self.inherited = dict(inherited)
        self.frames = frames
        self.is_join = is_join
        self.transition: Transition | None = None
        self._split_values = split_values
        self._loaded: dict[str, tuple[ArtifactRef, Any]] = {}

    def load_inherited(self, name: str) -> Any:
        ref = self.inherited.get(name)
        if ref is None:
            hint = (
                " In a join step the inputs' artifacts are read as inputs.<step>.<name> or "
                "copied with self.merge_artifacts(inputs)."
                if self.is_join
                else " Set it in this step or in a step before it."
            )
            raise AttributeError(f"Step '{self.step_name}' has no artifact '{name}'.{hint}")
        value = self.artifacts.load(ref, name, self.pathspec)
        self._loaded[name] = (ref, value)
        return value

    def load_parameter(self, name: str) -> Any:
        ref = self.inherited.get(name)
        if ref is None:
            raise AttributeError(f"Parameter '{name}' has no value in this run.")
        return self.artifacts.load_cached(ref, name, self.pathspec)

    def forget(self, name: str) -> None:
        self.inherited.pop(name, None)

    def inherit(self, name: str, ref: ArtifactRef) -> None:
        self.inherited[name] = ref

    def artifact_names(self, flow: Any) -> list[str]:
        own = [k for k in vars(flow) if not k.startswith("_")]
        return sorted(set(own) | set(self.inherited))

    def foreach_value(self, depth: int) -> Any:
        frame = self.frames[depth]
        return self._split_values(frame)[frame.index]

    def unchanged_ref(self, name: str, value: Any) -> ArtifactRef | None:
        """The stored ref of a loaded value that cannot have been modified in place."""
        loaded = self._loaded.get(name)
        if loaded is not None and loaded[1] is value and isinstance(value, _IMMUTABLE):
            return loaded[0]
        return None
