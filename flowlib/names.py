"""The names flowlib stores (flow, step, parameter, tag) and the limits every store sets on them.

A name that passes these checks fits every store and backend; one that does not is refused
before a run starts (flow, step and parameter names by the graph lint, with file:line; tags when
a run starts or a tag is added), never by a store halfway through a run.

Where each name ends up, and the limit that binds:

* flow: DynamoDB keys ``FLOW#<flow>`` (sort key, 1,024 bytes), ``RUN#<flow>#<run>`` and the
  index key ``TAG#<flow>#<tag>`` (2,048 bytes); S3 keys ``<prefix>/<flow>/data/..`` (1,024
  bytes); a local folder name (255 bytes); Batch job names (cut to 128) and AWS tag values
  (256 characters). Limit: an ASCII identifier of at most ``MAX_FLOW_NAME`` characters, which
  leaves room in the S3 key for the longest prefix.
* step: DynamoDB sort keys ``TASK#<step>#<task>``, ``ATTEMPT#<step>#..``, ``ARTS#<step>#..``;
  Batch job names and tags; Step Functions state names (80 characters, the binding limit).
  Limit: lowercase letters, digits and underscores, at most ``MAX_STEP_NAME`` characters.
* parameter: a command-line option, an artifact name, an environment variable. Limit: an ASCII
  identifier (dashes allowed) of at most ``MAX_PARAMETER_NAME`` characters.
* tag: DynamoDB sort key ``TAG#<tag>`` (1,024 bytes) and index key ``TAG#<flow>#<tag>``.
  Limit: at most ``MAX_TAG_CHARS`` characters and ``MAX_TAG_BYTES`` bytes of UTF-8, no control
  characters, line separators or surrogates, no surrounding white space.

Every pattern is matched against the whole name (``re.fullmatch``), so a trailing newline is
refused like any other character.
"""

from __future__ import annotations

import re
import unicodedata

MAX_FLOW_NAME = 128
MAX_STEP_NAME = 80
MAX_PARAMETER_NAME = 128
MAX_TAG_CHARS = 255
MAX_TAG_BYTES = 1000  # "TAG#" + tag within DynamoDB's 1,024-byte sort key

FLOW_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
STEP_NAME = re.compile(r"[a-z][a-z0-9_]*")
PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def flow_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a flow name, or None."""
    if not FLOW_NAME.fullmatch(name):
        return (
            f"the flow name '{name}' is not allowed: flow names may use only ASCII letters, "
            "digits and underscores, and must not start with a digit"
        )
    if len(name) > MAX_FLOW_NAME:
        return (
            f"the flow name '{name[:40]}...' is {len(name)} characters long; the limit is "
            f"{MAX_FLOW_NAME} (it is part of every S3 key, DynamoDB key and local folder of "
            "the flow)"
        )
    return None


def step_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a step name, or None."""
    if not STEP_NAME.fullmatch(name):
        return (
            f"the name '{name}' is not allowed: step names may use only lowercase letters, "
            "digits and underscores, and must start with a letter"
        )
    if len(name) > MAX_STEP_NAME:
        return (
            f"the step name '{name[:40]}...' is {len(name)} characters long; the limit is "
            f"{MAX_STEP_NAME} (it is part of the metadata store's keys, Batch job names and "
            "Step Functions state names)"
        )
    return None


def parameter_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a parameter name, or None."""
    if not PARAMETER_NAME.fullmatch(name):
        return (
            f"the parameter name '{name}' is not allowed: use ASCII letters, digits, "
            "underscores and dashes, not starting with a digit or a dash"
        )
    if len(name) > MAX_PARAMETER_NAME:
        return (
            f"the parameter name '{name[:40]}...' is {len(name)} characters long; the limit "
            f"is {MAX_PARAMETER_NAME}"
        )
    return None


def tag_problem(tag: object) -> str | None:
    """Why ``tag`` cannot be a run tag, or None."""
    if not isinstance(tag, str):
        return f"tag {tag!r} is a {type(tag).__name__}; tags are strings"
    if not tag:
        return "a tag cannot be empty"
    if tag != tag.strip():
        return f"tag {tag!r} starts or ends with white space; strip it"
    bad = next((c for c in tag if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")), None)
    if bad is not None:
        return (
            f"tag {tag[:60]!r} contains the character {bad!r} (U+{ord(bad):04X}); tags may not "
            "contain control characters, line separators or surrogates"
        )
    if len(tag) > MAX_TAG_CHARS:
        return f"tag {tag[:40]!r}... is {len(tag)} characters long; the limit is {MAX_TAG_CHARS}"
    size = len(tag.encode("utf-8"))
    if size > MAX_TAG_BYTES:
        return (
            f"tag {tag[:40]!r}... is {size} bytes in UTF-8; the limit is {MAX_TAG_BYTES} bytes "
            "(the metadata table's key limit)"
        )
    return None
