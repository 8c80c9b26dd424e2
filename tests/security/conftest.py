"""The terraform binary and the offline provider mirror, shared with tests/terraform."""

from tests.terraform.conftest import provider_mirror, terraform  # noqa: F401 - fixtures
