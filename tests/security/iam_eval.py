"""A small evaluator of IAM policy documents, for tests of the policies terraform/ renders.

It is ours, not AWS's: it implements the parts of AWS's documented evaluation logic these
policies use, so a test can ask "is this request allowed?" of the real JSON Terraform renders.

* An explicit Deny wins; else an Allow of a matching statement; else an implicit deny.
* Action and Resource match with ``*`` and ``?`` wildcards (actions case-insensitively).
* Conditions: every operator of a statement must hold, and every key of an operator; a key
  holds when any of its policy values matches (OR). Operators: String(Not)Equals,
  String(Not)Like, ArnLike, Bool, NumericLessThan, Null, each with ``IfExists``.
* A key missing from the request context: false for a positive operator, true for a negated
  one ("If the policy condition requires that the key is not matched, such as StringNotLike
  or ArnNotLike, and the right key is not present, the condition is true"); true for any
  ``...IfExists`` operator; ``Null`` tests presence itself (IAM User Guide, "Condition
  operators").

Principals and NotAction/NotResource are not modelled (the policies here do not use them).
"""

from __future__ import annotations

import re
from typing import Any

ALLOW, DENY, IMPLICIT_DENY = "allow", "deny", "implicit deny"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, text: str, ignore_case: bool = False) -> bool:
    regex = "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern
    )
    return re.fullmatch(regex, text, re.I if ignore_case else 0) is not None


def _operator_holds(operator: str, policy_values: list[str], actual: str | None) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    if base == "Null":
        wanted_missing = str(policy_values[0]).lower() == "true"
        return (actual is None) == wanted_missing
    negated = "Not" in base
    if actual is None:
        return True if if_exists else negated
    positive = base.replace("Not", "")
    if positive == "StringEquals":
        matched = any(actual == v for v in policy_values)
    elif positive in ("StringLike", "ArnLike"):
        matched = any(_wildcard(v, actual) for v in policy_values)
    elif positive == "Bool":
        matched = any(actual.lower() == str(v).lower() for v in policy_values)
    elif positive == "NumericLessThan":
        matched = any(float(actual) < float(v) for v in policy_values)
    else:
        raise NotImplementedError(f"condition operator {operator}")
    return not matched if negated else matched


def _statement_matches(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, str]
) -> bool:
    if not any(_wildcard(a, action, ignore_case=True) for a in _as_list(statement["Action"])):
        return False
    if not any(_wildcard(r, resource) for r in _as_list(statement["Resource"])):
        return False
    for operator, keys in statement.get("Condition", {}).items():
        for key, values in keys.items():
            if not _operator_holds(operator, [str(v) for v in _as_list(values)], context.get(key)):
                return False
    return True


def evaluate(
    policies: list[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, str] | None = None,
) -> str:
    """ALLOW, DENY (an explicit Deny matched) or IMPLICIT_DENY for one request."""
    context = context or {}
    allowed = False
    for policy in policies:
        for statement in _as_list(policy["Statement"]):
            if _statement_matches(statement, action, resource, context):
                if statement["Effect"] == "Deny":
                    return DENY
                allowed = True
    return ALLOW if allowed else IMPLICIT_DENY
