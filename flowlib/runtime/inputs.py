"""The ``inputs`` of a join step: one read-only view per parent task."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flowlib.datastore.artifacts import ArtifactRef, ArtifactStore
from flowlib.runtime.state import ForeachFrame


class InputView:
    """A parent task's artifacts, loaded on first access (``inputs[0].x``, ``inputs.a.x``)."""

    def __init__(
        self,
        pathspec: str,
        refs: dict[str, ArtifactRef],
        store: ArtifactStore,
        frames: list[ForeachFrame],
        split_values: Callable[[ForeachFrame], Any],
    ) -> None:
        self._split_values = split_values
        self._pathspec = pathspec
        self._step = pathspec.split("/")[2]
        self._refs = refs
        self._store = store
        self._frames = frames
        self._values: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._values:
            ref = self._refs.get(name)
            if ref is None:
                raise AttributeError(f"Input from step '{self._step}' has no artifact '{name}'.")
            self._values[name] = self._store.load(ref, name, self._pathspec)
        return self._values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_"):
            raise AttributeError("A join's inputs are read-only; assign to self instead.")
        object.__setattr__(self, name, value)

    @property
    def index(self) -> int | None:
        return self._frames[-1].index if self._frames else None

    @property
    def input(self) -> Any:
        if not self._frames:
            return None
        frame = self._frames[-1]
        return self._split_values(frame)[frame.index]

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        return [(f.index, f.num_splits, self._split_values(f)[f.index]) for f in self._frames]

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        for name in sorted(self._refs):
            yield name, getattr(self, name)

    def __repr__(self) -> str:
        return f"<input {self._pathspec}>"


class Inputs:
    """Iterable and indexable; for static splits also by step name (``inputs.train``)."""

    view = InputView

    def __init__(self, views: list[InputView]) -> None:
        self._views = views
        self._by_step = {v._step: v for v in views}

    def __iter__(self) -> Iterator[InputView]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __getitem__(self, index: int) -> InputView:
        return self._views[index]

    def __getattr__(self, name: str) -> InputView:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.__dict__["_by_step"][name]
        except KeyError:
            steps = ", ".join(sorted(self.__dict__["_by_step"]))
            raise AttributeError(
                f"No input from step '{name}'; inputs come from: {steps}."
            ) from None
