"""Refresh the instance price table from the AWS Price List API (``flowlib cost
--refresh-prices``).

One paginated ``pricing:GetProducts`` call over ``AmazonEC2`` (100 products per request, about
ten requests per region), filtered to what flowlib prices: Linux, shared tenancy, no
pre-installed software, capacity ``Used`` (the on-demand instance itself, not a reservation).
Each product's on-demand hourly USD price, vCPUs and memory become one row of the table
(``flowlib.cost.prices``), saved with the region and the time it was fetched to
``stored_table_path()``, where ``price_table()`` reads it. The Price List API is served from
us-east-1 (and eu-central-1, ap-south-1) whatever the region priced; it needs the
``pricing:GetProducts`` permission and no other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flowlib.cost import prices
from flowlib.exceptions import FlowlibError

PRICING_REGION = "us-east-1"  # the Price List API's endpoint, not the region priced
FILTERS = {
    "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
    "capacitystatus": "Used", "licenseModel": "No License required",
}


def instance_rows(price_list: Iterable[str]) -> dict[str, list[float]]:
    """``{instance type: [vcpus, memory GiB, USD per hour]}`` from GetProducts' ``PriceList``
    (one JSON document per product). Products without an hourly USD on-demand price, or with a
    price of 0 (placeholders), are skipped."""
    rows: dict[str, list[float]] = {}
    for text in price_list:
        product = json.loads(text) if isinstance(text, str) else text
        attributes = product.get("product", {}).get("attributes", {})
        instance = attributes.get("instanceType")
        try:
            vcpus = float(attributes["vcpu"])
            memory = float(attributes["memory"].split()[0].replace(",", ""))
        except (KeyError, ValueError, IndexError):
            continue
        price = _hourly_usd(product.get("terms", {}).get("OnDemand", {}))
        if instance and price:
            rows[instance] = [vcpus, memory, price]
    return rows


def _hourly_usd(on_demand: dict[str, Any]) -> float | None:
    for offer in on_demand.values():
        for dimension in offer.get("priceDimensions", {}).values():
            if dimension.get("unit") != "Hrs":
                continue
            try:
                usd = float(dimension.get("pricePerUnit", {}).get("USD", ""))
            except ValueError:
                continue
            if usd > 0:
                return usd
    return None


def fetch_price_table(pricing: Any, region: str) -> dict[str, Any]:
    """The price table of ``region`` from a ``pricing`` boto3 client (GetProducts, paginated)."""
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v}
               for k, v in {"regionCode": region, **FILTERS}.items()]
    rows: dict[str, list[float]] = {}
    pages = pricing.get_paginator("get_products").paginate(
        ServiceCode="AmazonEC2", Filters=filters, FormatVersion="aws_v1",
        PaginationConfig={"PageSize": 100})
    for page in pages:
        rows.update(instance_rows(page.get("PriceList", [])))
    if not rows:
        raise FlowlibError(
            f"The AWS Price List API returned no Linux on-demand EC2 prices for region "
            f"{region!r}: check the region name (e.g. eu-west-1)."
        )
    return {**{k: v for k, v in prices.DEFAULT.items() if k != "instances"}, "region": region,
            "instances": rows, "source": "AWS Price List API (pricing:GetProducts)",
            "fetched": time.time()}


def refresh_price_table(session: Any, region: str, path: Path | None = None) -> dict[str, Any]:
    """Fetch ``region``'s prices with a boto3 ``session`` and store them where the cost module
    reads them; returns the table."""
    import botocore.exceptions

    pricing = session.client("pricing", region_name=PRICING_REGION)
    try:
        table = fetch_price_table(pricing, region)
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise FlowlibError(
            f"The AWS Price List API refused the request ({error.get('Code')}: "
            f"{error.get('Message')}). The credentials need pricing:GetProducts."
        ) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise FlowlibError(f"Cannot reach the AWS Price List API: {exc}.") from None
    path = path or prices.stored_table_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(table, indent=1, sort_keys=True))
    tmp.replace(path)
    prices.invalidate()
    return table
