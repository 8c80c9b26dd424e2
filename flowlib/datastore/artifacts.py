"""Named artifacts on top of a blob store: encode, store once, load back verified."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from flowlib.datastore import codec, dataframe, safe_load  # noqa: F401 - dataframe registers parquet
from flowlib.datastore.base import BlobStore
from flowlib.exceptions import ArtifactError, CorruptArtifactError, FlowlibError


@dataclass(frozen=True)
class ArtifactRef:
    """Where an artifact's value is: its content key, stored size, type and encoding."""

    key: str
    size: int
    type: str
    encoding: str = "pickle5"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArtifactRef:
        return cls(data["key"], int(data["size"]), data["type"], data.get("encoding", "pickle5"))


class ArtifactStore:
    """Saves and loads artifact values of one flow; caches what this process loaded."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._cache: dict[str, Any] = {}

    def save(self, name: str, value: Any, where: str) -> ArtifactRef:
        """Store ``value``; ``where`` (a pathspec) is used only in error messages."""
        try:
            encoded = codec.encode(value)
        except Exception as exc:  # noqa: BLE001 - any pickling failure is the user's value
            raise ArtifactError(
                f"Artifact '{name}' of {where} cannot be stored: {type(exc).__name__}: {exc}. "
                f"Store a picklable value, or name the attribute '_{name}' to keep it out of "
                "the datastore."
            ) from None
        try:
            key = self.blobs.put(encoded.chunks)
        except FlowlibError as exc:
            raise type(exc)(f"Artifact '{name}' of {where} cannot be stored: {exc}") from None
        return ArtifactRef(key, encoded.size, encoded.type_name, encoded.encoding)

    def load(self, ref: ArtifactRef, name: str = "", where: str = "") -> Any:
        try:
            blob = self.blobs.get(ref.key)
        except CorruptArtifactError as exc:
            raise CorruptArtifactError(f"Artifact '{name}' of {where}: {exc}") from None
        except FlowlibError as exc:
            raise type(exc)(f"Artifact '{name}' of {where}: {exc}") from None
        if safe_load.safe_load_enabled():
            try:
                return safe_load.decode(blob, ref.encoding, ref.type)
            except safe_load.UnsafeArtifactError as exc:
                raise safe_load.UnsafeArtifactError(
                    f"Safe loading refused artifact '{name}' of {where}: it {exc}"
                ) from None
        try:
            return codec.decode(blob, ref.encoding)
        except FlowlibError as exc:
            raise type(exc)(f"Artifact '{name}' of {where}: {exc}") from None
        except (AttributeError, ModuleNotFoundError) as exc:
            raise ArtifactError(_missing_class_message(name, where, ref, exc)) from None

    def load_cached(self, ref: ArtifactRef, name: str = "", where: str = "") -> Any:
        """Load, reusing a value this process already decoded (treat it as read-only)."""
        if ref.key not in self._cache:
            self._cache[ref.key] = self.load(ref, name, where)
        return self._cache[ref.key]

    def put_bytes(self, data: bytes) -> str:
        return self.blobs.put([data])

    def get_bytes(self, key: str) -> bytes:
        return bytes(self.blobs.get(key))


def _missing_class_message(name: str, where: str, ref: ArtifactRef, exc: Exception) -> str:
    """Unpickling needs the value's class importable by its module path; say what to do."""
    text = str(exc)
    if "__main__" in text or ref.type.startswith("__main__."):
        cls = ref.type.removeprefix("__main__.")
        return (
            f"Artifact '{name}' of {where} is an instance of {cls}, a class defined in the flow "
            "file itself (module __main__), which exists only while that file runs. Move the "
            "class into a module next to the flow file (e.g. models.py) and import it from "
            "there; runs made after the move can be read anywhere."
        )
    return (
        f"Artifact '{name}' of {where} (type {ref.type}) cannot be loaded: {type(exc).__name__}: "
        f"{text}. Install or put on PYTHONPATH the module that defines its class."
    )
