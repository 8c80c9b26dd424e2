"""Contract checks on terraform/ read with python-hcl2: conventions, the flowlib_config output
against flowlib/config/stack_output_schema.json, the metadata module against
flowlib/metadata/table_schema.json, providers and module sources, READMEs and tfvars."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from tests.terraform.helpers import (
    MODULE_NAMES,
    MODULES_DIR,
    STACK_OUTPUT_SCHEMA_FILE,
    TABLE_SCHEMA_FILE,
    TERRAFORM_DIR,
    load_config,
    load_hcl,
)

EXAMPLE_DIRS = {f"examples/{p.name}": p for p in sorted((TERRAFORM_DIR / "examples").iterdir())
                if (p / "main.tf").is_file()}
CONFIG_DIRS = {"root": TERRAFORM_DIR, **{name: MODULES_DIR / name for name in MODULE_NAMES},
               **EXAMPLE_DIRS}
EXPECTED_MODULES = {"network", "artifacts", "metadata", "iam", "batch", "eks", "ecr", "kms"}


def _blocks(config: dict[str, list[Any]], kind: str) -> dict[str, dict[str, Any]]:
    """``{name: body}`` for the variable/output blocks of a merged config."""
    found: dict[str, dict[str, Any]] = {}
    for block in config.get(kind, []):
        for name, body in block.items():
            assert name not in found, f"{kind} {name} declared twice"
            found[name] = body
    return found


def _readme_names(readme: str, heading: str) -> set[str]:
    """Backticked names in the first column of the table under ``## <heading>``."""
    match = re.search(rf"^## {heading}\s*$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert match, f"README has no '## {heading}' section"
    return set(re.findall(r"^\|\s*`([A-Za-z0-9_]+)`\s*\|", match.group(1), re.M))


def test_all_modules_exist_with_standard_files() -> None:
    assert EXPECTED_MODULES <= set(MODULE_NAMES)
    for name in MODULE_NAMES:
        for file in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (MODULES_DIR / name / file).is_file(), f"modules/{name}/{file} is missing"


@pytest.mark.parametrize("config", sorted(CONFIG_DIRS))
def test_variables_have_type_and_description(config: str) -> None:
    variables = _blocks(load_config(CONFIG_DIRS[config]), "variable")
    assert variables, f"{config} declares no variable"
    for name, body in variables.items():
        assert body.get("type"), f"{config}: variable {name} has no type"
        assert str(body.get("description", "")).strip(), f"{config}: variable {name} undescribed"
    if config != "root":
        assert "tags" in variables, f"{config}: modules take a tags map"
        assert "map(string)" in str(variables["tags"]["type"])


@pytest.mark.parametrize("config", sorted(CONFIG_DIRS))
def test_outputs_have_description(config: str) -> None:
    outputs = _blocks(load_config(CONFIG_DIRS[config]), "output")
    assert outputs, f"{config} declares no output"
    for name, body in outputs.items():
        assert str(body.get("description", "")).strip(), f"{config}: output {name} undescribed"


@pytest.mark.parametrize("config", sorted(CONFIG_DIRS))
def test_only_the_aws_provider_with_bounded_version(config: str) -> None:
    config_blocks = load_config(CONFIG_DIRS[config])
    terraform_blocks = config_blocks.get("terraform", [])
    assert terraform_blocks, f"{config}: no terraform block"
    required_version = " ".join(str(b.get("required_version", "")) for b in terraform_blocks)
    assert ">= 1.5" in required_version, f"{config}: required_version must be >= 1.5"
    providers: dict[str, Any] = {}
    for block in terraform_blocks:
        for entry in block.get("required_providers", []):
            providers.update(entry)
    assert set(providers) == {"aws"}, f"{config}: only hashicorp/aws is allowed, got {providers}"
    assert providers["aws"]["source"] == "hashicorp/aws"
    constraint = providers["aws"]["version"]
    assert _satisfies("5.100.0", constraint), f"{config}: {constraint!r} must accept 5.100.0"
    # The ceiling lives in the root stack only: a module or an example with its own ceiling
    # would keep a root that raises it from resolving.
    if config == "root":
        assert re.search(r"<\s*\d", constraint), f"root: {constraint!r} needs an upper bound"
    else:
        assert "<" not in constraint, f"{config}: {constraint!r}: the ceiling is the root's"
    # No registry or remote modules: every module source is a local path.
    for block in config_blocks.get("module", []):
        for name, body in block.items():
            source = body["source"]
            assert source.startswith(("./", "../")), f"{config}: module {name} source {source}"
    # No provider other than aws anywhere (data sources and resources included).
    for kind in ("resource", "data"):
        for block in config_blocks.get(kind, []):
            for type_name in block:
                assert type_name.startswith("aws_"), f"{config}: {kind} {type_name} not aws"


def _satisfies(version: str, constraint: str) -> bool:
    """Tiny evaluator for Terraform constraints made of >=, >, <=, <, = and ~> parts."""

    def parse(text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in text.strip().split("."))

    wanted = parse(version)
    for part in constraint.split(","):
        match = re.fullmatch(r"\s*(>=|<=|>|<|=|~>)?\s*([\d.]+)\s*", part)
        assert match, f"cannot read constraint part {part!r}"
        op, bound_text = match.group(1) or "=", match.group(2)
        bound = parse(bound_text)
        padded = bound + (0,) * (len(wanted) - len(bound))
        ok = {
            ">=": wanted >= padded,
            ">": wanted > padded,
            "<=": wanted <= padded,
            "<": wanted < padded,
            "=": wanted == padded,
            "~>": wanted >= padded and wanted[: len(bound) - 1] == bound[:-1],
        }[op]
        if not ok:
            return False
    return True


def test_root_backend_is_partial_s3() -> None:
    terraform_blocks = load_config(TERRAFORM_DIR)["terraform"]
    backends = [b for block in terraform_blocks for b in block.get("backend", [])]
    assert backends == [{"s3": {}}], 'the root needs an empty backend "s3" {} block'


def test_flowlib_config_keys_match_stack_output_schema() -> None:
    schema = json.loads(STACK_OUTPUT_SCHEMA_FILE.read_text())
    outputs = _blocks(load_config(TERRAFORM_DIR), "output")
    assert "flowlib_config" in outputs
    value = outputs["flowlib_config"]["value"]
    assert isinstance(value, dict), "flowlib_config must be an object literal"
    assert set(value) == set(schema["keys"]), (
        f"missing: {sorted(set(schema['keys']) - set(value))}, "
        f"extra: {sorted(set(value) - set(schema['keys']))}"
    )
    assert value["schema_version"] == schema["schema_version"]
    # No secrets and no placeholders in the contract.
    text = json.dumps(value).lower()
    for word in ("secret", "password", "token", "changeme", "todo", "example.com"):
        assert word not in text, f"flowlib_config mentions {word!r}"


def test_metadata_schema_symlink_is_relative_and_points_at_flowlib() -> None:
    link = MODULES_DIR / "metadata" / "table_schema.json"
    assert link.is_symlink(), "modules/metadata/table_schema.json must be a symlink"
    assert os.readlink(link) == "../../../flowlib/metadata/table_schema.json"
    assert link.resolve() == TABLE_SCHEMA_FILE.resolve()


def test_metadata_module_builds_table_from_schema_file() -> None:
    config = load_config(MODULES_DIR / "metadata")
    locals_ = {k: v for block in config["locals"] for k, v in block.items()}
    assert locals_["schema"] == '${jsondecode(file("${path.module}/table_schema.json"))}'
    table = next(
        body["this"]
        for block in config["resource"]
        for kind, body in block.items()
        if kind == "aws_dynamodb_table"
    )
    # Keys, billing mode, attributes and indexes all come from the decoded schema, none is
    # written out in the module.
    assert table["hash_key"] == "${local.hash_key.name}"
    assert "local.range_key" in table["range_key"]
    assert table["billing_mode"] == "${local.schema.billing_mode}"
    dynamic = {name: body for entry in table["dynamic"] for name, body in entry.items()}
    assert "local.attributes" in dynamic["attribute"]["for_each"]
    assert "local.gsis" in dynamic["global_secondary_index"]["for_each"]
    assert "local.schema.hash_key" in locals_["hash_key"]
    assert "local.schema.global_secondary_indexes" in locals_["gsis"]
    schema = json.loads(TABLE_SCHEMA_FILE.read_text())
    module_text = (MODULES_DIR / "metadata" / "main.tf").read_text()
    key_names = {schema["hash_key"]["name"], schema["range_key"]["name"]}
    for gsi in schema.get("global_secondary_indexes", []):
        key_names |= {gsi["name"], gsi["hash_key"]["name"], gsi["range_key"]["name"]}
    for name in key_names:
        assert f'"{name}"' not in module_text, f"{name!r} is hard-coded in the metadata module"
    assert table["point_in_time_recovery"][0]["enabled"] == "${var.point_in_time_recovery_enabled}"
    assert table["server_side_encryption"][0]["enabled"] is True
    variables = _blocks(config, "variable")
    assert variables["table_deletion_protection_enabled"]["default"] is True
    assert variables["point_in_time_recovery_enabled"]["default"] is True


@pytest.mark.parametrize("config", sorted(CONFIG_DIRS))
def test_readme_tables_match_code(config: str) -> None:
    directory = CONFIG_DIRS[config]
    readme = (directory / "README.md").read_text()
    merged = load_config(directory)
    variables = set(_blocks(merged, "variable"))
    outputs = set(_blocks(merged, "output"))
    documented_inputs = _readme_names(readme, "Inputs")
    documented_outputs = _readme_names(readme, "Outputs")
    assert documented_inputs == variables, (
        f"README inputs: missing {sorted(variables - documented_inputs)}, "
        f"stale {sorted(documented_inputs - variables)}"
    )
    assert documented_outputs == outputs, (
        f"README outputs: missing {sorted(outputs - documented_outputs)}, "
        f"stale {sorted(documented_outputs - outputs)}"
    )


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_environment_tfvars_use_root_variables(environment: str) -> None:
    tfvars = load_hcl(TERRAFORM_DIR / "environments" / f"{environment}.tfvars")
    variables = _blocks(load_config(TERRAFORM_DIR), "variable")
    unknown = set(tfvars) - set(variables)
    assert not unknown, f"{environment}.tfvars sets undeclared variables {sorted(unknown)}"
    assert tfvars["environment"] == environment
    backend = TERRAFORM_DIR / "environments" / f"{environment}.s3.tfbackend"
    assert backend.is_file(), f"{backend.name} (partial backend config) is missing"
    backend_settings = load_hcl(backend)
    assert backend_settings.get("use_lockfile") is True
    assert {"bucket", "key", "region"} <= set(backend_settings)


def test_dev_example_is_cheap_at_rest() -> None:
    dev = load_hcl(TERRAFORM_DIR / "environments" / "dev.tfvars")
    variables = _blocks(load_config(TERRAFORM_DIR), "variable")

    def setting(name: str) -> Any:
        return dev.get(name, variables[name].get("default"))

    assert setting("enable_nat_gateway") is False
    assert setting("enable_interface_endpoints") is False
    for name, environment in (setting("batch_compute_environments") or {}).items():
        assert environment.get("min_vcpus", 0) == 0, f"dev compute environment {name} min_vcpus"


def test_batch_min_vcpus_default_to_zero() -> None:
    for directory, name in (
        (TERRAFORM_DIR, "batch_compute_environments"),
        (MODULES_DIR / "batch", "compute_environments"),
    ):
        variable = _blocks(load_config(directory), "variable")[name]
        assert re.search(r"min_vcpus\s*=\s*optional\(number,\s*0\)", str(variable["type"])), (
            directory
        )
        for key, environment in variable["default"].items():
            assert environment.get("min_vcpus", 0) == 0, f"{directory}: {key} min_vcpus"


def test_modules_have_no_test_only_settings() -> None:
    for tf_file in TERRAFORM_DIR.rglob("*.tf"):
        text = tf_file.read_text()
        for marker in ("127.0.0.1", "localhost", "skip_credentials_validation", "endpoints {"):
            assert marker not in text, f"{tf_file}: test-only setting {marker!r}"
