"""Metaflow's ``metaflow.metaflow_current``: ``from flowlib.metaflow_current import current``."""

from flowlib.current import current

__all__ = ["current"]
