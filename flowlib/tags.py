"""Run tags: the rules a user tag must follow, and the system tags every run carries.

A leaf module (it imports nothing above ``names``, ``exceptions``, ``current`` and ``version``): the
runtime uses it when a run starts and the client when a user adds tags afterwards, without
either depending on the other.
"""

from __future__ import annotations

import platform

from flowlib.current import current_user
from flowlib.exceptions import FlowlibError
from flowlib.names import tag_problem
from flowlib.version import __version__


def system_tags() -> list[str]:
    """The tags flowlib puts on every run: who ran it, with which flowlib and Python."""
    return [
        f"user:{current_user()}",
        "runtime:flowlib",
        f"flowlib_version:{__version__}",
        f"python_version:{platform.python_version()}",
    ]


def validate_tags(tags: list[str]) -> list[str]:
    """The tags without duplicates (first occurrence kept); raises FlowlibError naming the
    first tag that does not fit every store (``flowlib.names.tag_problem``)."""
    for tag in tags:
        problem = tag_problem(tag)
        if problem:
            raise FlowlibError(f"Invalid tag: {problem}.")
    return list(dict.fromkeys(tags))
