"""DynamoDB item layout of flowlib's metadata table: sizes, key formats, the table schema
contract and the attribute-value codecs. The store is the rest of this package; its
``__init__``'s docstring documents the item types and the access patterns each key serves."""

from __future__ import annotations

import json
from typing import Any

RUN_DIGITS = 12
ATTEMPT_DIGITS = 4
ARTIFACT_PART_BYTES = 300_000  # under the 400 KB item limit with room for keys
TRANSACTION_ITEMS = 100
TRANSACTION_BYTES = 3_500_000  # under the 4 MB transaction limit
FIRST_PAGE = 10
MAX_PAGE = 500
PAGE_SCAN = 2000  # items one page of the UI's run listing examines at most


def table_schema() -> dict[str, Any]:
    """The table contract (table_schema.json), shared with the Terraform metadata module."""
    from importlib import resources

    return json.loads(
        resources.files("flowlib.metadata").joinpath("table_schema.json").read_text()
    )


def create_table_kwargs(table_name: str) -> dict[str, Any]:
    """``CreateTable`` arguments equivalent to what the Terraform module provisions."""
    schema = table_schema()
    attrs: dict[str, str] = {}
    keys = [schema["hash_key"], schema["range_key"]]
    for gsi in schema.get("global_secondary_indexes", []):
        keys += [gsi["hash_key"], gsi["range_key"]]
    for key in keys:
        attrs[key["name"]] = key["type"]
    return {
        "TableName": table_name,
        "BillingMode": schema["billing_mode"],
        "AttributeDefinitions": [
            {"AttributeName": n, "AttributeType": t} for n, t in attrs.items()
        ],
        "KeySchema": [
            {"AttributeName": schema["hash_key"]["name"], "KeyType": "HASH"},
            {"AttributeName": schema["range_key"]["name"], "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": gsi["name"],
                "KeySchema": [
                    {"AttributeName": gsi["hash_key"]["name"], "KeyType": "HASH"},
                    {"AttributeName": gsi["range_key"]["name"], "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": gsi.get("projection_type", "ALL")},
            }
            for gsi in schema.get("global_secondary_indexes", [])
        ],
    }


def check_table(description: dict[str, Any]) -> list[str]:
    """Differences between a DescribeTable ``Table`` and the contract (empty when it matches)."""
    schema = table_schema()
    problems = []
    attr_types = {a["AttributeName"]: a["AttributeType"]
                  for a in description.get("AttributeDefinitions", [])}

    def keys_of(key_schema: list[dict[str, str]]) -> dict[str, str]:
        return {k["KeyType"]: k["AttributeName"] for k in key_schema}

    def expect(where: str, actual: dict[str, str], hash_key: dict, range_key: dict) -> None:
        for kind, key in (("HASH", hash_key), ("RANGE", range_key)):
            if actual.get(kind) != key["name"]:
                problems.append(f"{where}: {kind} key is {actual.get(kind)!r}, expected "
                                f"{key['name']!r}")
            elif attr_types.get(key["name"]) != key["type"]:
                problems.append(f"{where}: attribute {key['name']} has type "
                                f"{attr_types.get(key['name'])!r}, expected {key['type']!r}")

    expect("table", keys_of(description.get("KeySchema", [])), schema["hash_key"],
           schema["range_key"])
    gsis = {g["IndexName"]: g for g in description.get("GlobalSecondaryIndexes", [])}
    for gsi in schema.get("global_secondary_indexes", []):
        live = gsis.get(gsi["name"])
        if live is None:
            problems.append(f"index {gsi['name']} is missing")
            continue
        expect(f"index {gsi['name']}", keys_of(live["KeySchema"]), gsi["hash_key"],
               gsi["range_key"])
        projection = live.get("Projection", {}).get("ProjectionType")
        if projection != gsi.get("projection_type", "ALL"):
            problems.append(f"index {gsi['name']}: projection {projection}, expected "
                            f"{gsi.get('projection_type', 'ALL')}")
    return problems


# -- item encoding ---------------------------------------------------------------------------
def _run_no(run_id: str | int) -> str:
    return f"{int(run_id):0{RUN_DIGITS}d}"


def _att_no(attempt: int) -> str:
    return f"{int(attempt):0{ATTEMPT_DIGITS}d}"


def _S(value: str) -> dict[str, str]:
    return {"S": value}


def _N(value: float | int) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def _J(value: Any) -> dict[str, str]:
    return {"S": json.dumps(value, separators=(",", ":"))}


def _num(item: dict, name: str) -> float | None:
    value = item.get(name)
    return float(value["N"]) if value else None


def _str(item: dict, name: str) -> str | None:
    value = item.get(name)
    return value["S"] if value else None


def _json(item: dict, name: str, default: Any = None) -> Any:
    value = item.get(name)
    return json.loads(value["S"]) if value else default


def _run_pk(flow: str, run_id: str | int) -> str:
    return f"RUN#{flow}#{_run_no(run_id)}"


def _is_run_id(run_id: Any) -> bool:
    try:
        return int(run_id) >= 0 and len(str(int(run_id))) <= RUN_DIGITS
    except (TypeError, ValueError):
        return False
