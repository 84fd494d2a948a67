"""What the storage module remembers within a process never outlives what it was read from."""

import shutil

import pytest

from odibi_dagster.engines.storage import StorageOwnerError, TableMetadata, claim_project_folder


def test_a_remembered_claim_does_not_survive_its_owner_file(tmp_path):
    claim_project_folder(tmp_path, "qat", "sales_eu", "Sales EU")
    claim_project_folder(tmp_path, "qat", "sales_eu", "Sales EU")  # remembered: no read
    shutil.rmtree(tmp_path / "qat")  # the storage was wiped; another project writes there first
    claim_project_folder(tmp_path, "qat", "sales_eu", "sales-eu")
    with pytest.raises(StorageOwnerError, match="belongs to project 'sales-eu'; project 'Sales EU'"):
        claim_project_folder(tmp_path, "qat", "sales_eu", "Sales EU")


def _metadata(table: str) -> dict:
    return dict(TableMetadata.of(project="p", env="qat", layer="Silver", table=table, mode="merge", format=None,
                                 merge_keys=["id"], partition_by=[], schema_evolution=False, null_keys="error",
                                 cache_layer=None))


def test_table_metadata_is_read_once_per_mapping_and_each_mapping_gives_its_own():
    first = _metadata("silver.a")
    read = TableMetadata.of_asset(first)
    assert read == TableMetadata.extract(first) and read.table == "silver.a"
    assert TableMetadata.of_asset(first) is read  # the same mapping: not validated again
    second = _metadata("silver.b")  # equal keys, another table
    assert TableMetadata.of_asset(second).table == "silver.b"
    assert TableMetadata.of_asset(second).write_spec().merge_keys == ("id",)
