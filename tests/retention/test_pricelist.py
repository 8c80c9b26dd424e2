"""Refreshing the instance price table from the AWS Price List API.

moto (5.2) does not implement the ``pricing`` service, so these tests feed a botocore
``Stubber`` on a real ``pricing`` client with GetProducts responses in the exact documented
shape (FormatVersion ``aws_v1``: ``PriceList`` is a list of JSON strings, one product each,
with ``product.attributes`` and ``terms.OnDemand.<offer>.priceDimensions.<dim>.pricePerUnit``),
two pages joined by ``NextToken``. The Stubber also checks the request parameters flowlib sends
against the service model. It is a test double, not AWS: the figures below are made up.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from flowlib.cli.flowlib_command import main
from flowlib.cost import prices
from flowlib.cost.pricelist import FILTERS, fetch_price_table, refresh_price_table
from flowlib.exceptions import FlowlibError


def product(instance: str, vcpu: str, memory: str, usd: str, unit: str = "Hrs") -> str:
    sku = f"SKU{abs(hash(instance)) % 10**8:08d}"
    return json.dumps({
        "product": {
            "productFamily": "Compute Instance",
            "attributes": {
                "servicecode": "AmazonEC2", "regionCode": "eu-west-1",
                "instanceType": instance, "vcpu": vcpu, "memory": memory,
                "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
                "capacitystatus": "Used", "licenseModel": "No License required",
            },
            "sku": sku,
        },
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {
            "offerTermCode": "JRTCKXETXF", "sku": sku,
            "effectiveDate": "2026-11-01T00:00:00Z", "termAttributes": {},
            "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7", "unit": unit,
                "description": f"${usd} per On Demand Linux {instance} Instance Hour",
                "beginRange": "0", "endRange": "Inf", "appliesTo": [],
                "pricePerUnit": {"USD": usd},
            }},
        }}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    })


PAGES = [
    [product("m5.large", "2", "8 GiB", "0.1070000000"),
     product("x2iedn.32xlarge", "128", "4,096 GiB", "33.3440000000"),
     product("m5.placeholder", "2", "8 GiB", "0.0000000000")],  # price 0: skipped
    [product("c6i.xlarge", "4", "8 GiB", "0.1920000000"),
     product("m5.large-quantity", "2", "8 GiB", "1.0", unit="Quantity")],  # not hourly
]


def stubbed_pricing(region: str = "eu-west-1"):
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    stub = Stubber(client)
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v}
               for k, v in {"regionCode": region, **FILTERS}.items()]
    base = {"ServiceCode": "AmazonEC2", "Filters": filters, "FormatVersion": "aws_v1",
            "MaxResults": 100}
    stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": PAGES[0],
                                       "NextToken": "page-2"}, base)
    stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": PAGES[1]},
                      {**base, "NextToken": "page-2"})
    stub.activate()
    return client, stub


def test_get_products_pages_become_the_price_table():
    client, stub = stubbed_pricing()
    table = fetch_price_table(client, "eu-west-1")
    stub.assert_no_pending_responses()
    assert table["instances"] == {
        "m5.large": [2.0, 8.0, 0.107], "x2iedn.32xlarge": [128.0, 4096.0, 33.344],
        "c6i.xlarge": [4.0, 8.0, 0.192]}
    assert table["region"] == "eu-west-1" and table["fetched"] > 0
    assert table["vcpu_hour"] == prices.DEFAULT["vcpu_hour"]  # the rest is kept


def test_refresh_stores_the_table_where_cost_reads_it_and_cost_says_so(
        tmp_path, monkeypatch, local):
    stored = tmp_path / "config" / "price_table.json"
    monkeypatch.setattr(prices, "stored_table_path", lambda: stored)
    monkeypatch.delenv(prices.PRICE_TABLE_ENV, raising=False)
    prices.invalidate()
    assert prices.price_table()["source"].startswith("built-in")
    client, _ = stubbed_pricing()
    session = SimpleNamespace(client=lambda service, region_name: client)
    monkeypatch.setattr("flowlib.config.aws.AwsContext.session", property(lambda s: session))
    try:
        result = CliRunner().invoke(main, ["cost", "--refresh-prices", "--region",
                                           "eu-west-1"])
        assert result.exit_code == 0, result.output
        assert "AWS Price List API" in result.output and "fetched 20" in result.output
        assert json.loads(stored.read_text())["instances"]["m5.large"] == [2, 8, 0.107]
        table = prices.price_table()
        assert table["instances"]["c6i.xlarge"][2] == 0.192
        assert "eu-west-1, fetched 20" in prices.describe()
        assert "3 instance types" in prices.describe()
    finally:
        prices.invalidate()


def test_an_empty_answer_or_a_refusal_is_a_clear_error(tmp_path):
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    stub = Stubber(client)
    stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []})
    stub.add_client_error("get_products", "AccessDeniedException", "not authorized")
    stub.activate()
    with pytest.raises(FlowlibError, match="no Linux on-demand EC2 prices for region 'mars-1'"):
        fetch_price_table(client, "mars-1")
    session = SimpleNamespace(client=lambda service, region_name: client)
    with pytest.raises(FlowlibError, match="pricing:GetProducts"):
        refresh_price_table(session, "eu-west-1", tmp_path / "t.json")
    assert not (tmp_path / "t.json").exists()
