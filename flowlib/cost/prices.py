"""The on-demand price table (Linux, USD per hour), used where the instance type of an
attempt is known. Which table, first found:

1. ``FLOWLIB_PRICE_TABLE``: a JSON file of the same shape
   (``{"instances": {type: [vcpus, memory_gib, usd_per_hour]}, ...}``);
2. the table ``flowlib cost --refresh-prices`` fetched from the AWS Price List API
   (``stored_table_path()``, with its region and the time it was fetched);
3. the small built-in table below (us-east-1, prices of 2024).

``describe()`` says which one is in use; the cost output shows it.
"""

from __future__ import annotations

import json
import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

PRICE_TABLE_ENV = "FLOWLIB_PRICE_TABLE"

DEFAULT: dict[str, Any] = {
    "region": "us-east-1",
    # type: [vCPUs, memory GiB, USD per hour on demand]
    "instances": {
        "m5.large": [2, 8, 0.096], "m5.xlarge": [4, 16, 0.192], "m5.2xlarge": [8, 32, 0.384],
        "m5.4xlarge": [16, 64, 0.768], "m6i.large": [2, 8, 0.096],
        "m6i.xlarge": [4, 16, 0.192], "m6i.2xlarge": [8, 32, 0.384],
        "c5.large": [2, 4, 0.085], "c5.xlarge": [4, 8, 0.17], "c5.2xlarge": [8, 16, 0.34],
        "c6i.xlarge": [4, 8, 0.17], "r5.large": [2, 16, 0.126], "r5.xlarge": [4, 32, 0.252],
        "r5.2xlarge": [8, 64, 0.504], "g4dn.xlarge": [4, 16, 0.526],
        "g5.xlarge": [4, 16, 1.006], "p3.2xlarge": [8, 61, 3.06],
    },
    # Where the instance type is unknown: Fargate's per-vCPU and per-GiB hourly rates, an
    # estimate of what the requested share of a machine costs.
    "vcpu_hour": 0.04048,
    "gib_hour": 0.004445,
    # S3 Standard, first 50 TB, per GiB-month; PUT/COPY/POST/LIST per 1,000 requests.
    "s3_gib_month": 0.023,
    "s3_put_per_1000": 0.005,
    "source": "built-in table (us-east-1 prices of 2024)",
}
STORED_NAME = "price_table.json"


def stored_table_path() -> Path:
    """Where ``flowlib cost --refresh-prices`` keeps the fetched table (per user)."""
    from flowlib.config import config_dir

    return config_dir() / STORED_NAME


@lru_cache(maxsize=4)
def _load(path: str | None) -> dict[str, Any]:
    if not path:
        return DEFAULT
    from flowlib.exceptions import FlowlibError

    try:
        data = json.loads(open(path).read())
    except (OSError, ValueError) as exc:
        raise FlowlibError(f"Cannot read the price table {path} ({PRICE_TABLE_ENV}): {exc}."
                           ) from None
    data.setdefault("source", f"price table {path}")
    return {**DEFAULT, **data}


def price_table() -> dict[str, Any]:
    path = os.environ.get(PRICE_TABLE_ENV)
    if not path:
        stored = stored_table_path()
        path = str(stored) if stored.exists() else None
    return _load(path)


def invalidate() -> None:
    """Forget loaded tables (after a refresh wrote a new one)."""
    _load.cache_clear()


def describe(table: dict[str, Any] | None = None) -> str:
    """Where the prices come from, for the cost output: source, region, when fetched."""
    table = table if table is not None else price_table()
    text = f"{table.get('source', 'price table')}, {table.get('region', 'us-east-1')}"
    fetched = table.get("fetched")
    if isinstance(fetched, (int, float)):
        text += time.strftime(", fetched %Y-%m-%d %H:%M UTC", time.gmtime(fetched))
    return text + f", {len(table.get('instances', {}))} instance types"
