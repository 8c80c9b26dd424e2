"""Namespaces: by default the client sees only the current user's runs (tag ``user:<name>``)."""

from __future__ import annotations

from flowlib.current import current_user

_UNSET = object()
_namespace: object = _UNSET


def default_namespace() -> str:
    """Reset to the default namespace (``user:<current user>``) and return it."""
    global _namespace
    _namespace = f"user:{current_user()}"
    return _namespace


def namespace(ns: str | None) -> str | None:
    """Switch namespace: a tag such as ``user:alice``, or None for every run."""
    global _namespace
    _namespace = ns
    return ns


def get_namespace() -> str | None:
    if _namespace is _UNSET:
        return default_namespace()
    return _namespace  # type: ignore[return-value]
