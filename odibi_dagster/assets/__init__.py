"""The asset factory: a project's config becomes assets, jobs, schedules and resources."""

from odibi_dagster.assets.definitions import build_definitions
from odibi_dagster.assets.factory import build_assets
from odibi_dagster.assets.naming import asset_key

__all__ = ["asset_key", "build_assets", "build_definitions"]
