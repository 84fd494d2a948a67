"""Config rows to ``AssetSpec``s: the one translator from sources and outputs to Dagster's terms.

``OdibiTranslator.get_asset_spec`` gives each bronze source and each transformation output its
key, group, description, kinds, tags, owners and metadata (the ``TableMetadata`` the IO manager
reads). Subclass it and pass it to ``build_definitions(..., translator=...)`` to change keys,
groups, tags or owners, as with dagster-dbt's ``DagsterDbtTranslator``. Building specs reads no
data and runs nothing; ``factory.py`` wraps them with the execution.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

# public in Dagster's API reference, not re-exported at the top level in 1.13
from dagster._core.definitions.metadata import NamespacedMetadataSet

from odibi_dagster.assets.automation import automation_condition
from odibi_dagster.assets.naming import ResourceKeys, asset_key, owners, tag_value
from odibi_dagster.assets.presentation import (
    check_description,
    declared_column_schema,
    source_code_references,
    source_description,
    source_kinds,
    transformation_code_references,
    transformation_description,
)
from odibi_dagster.config.model import OutputSpec, Project, Source, Transformation
from odibi_dagster.engines.storage import TableMetadata, planned_format
from odibi_dagster.partitions.definition import partitions_definition


class RowMetadata(NamespacedMetadataSet):
    """Which config row an asset comes from (shown on the asset page, used by nothing at run time)."""

    source_id: str | None = None
    file_format: str | None = None
    transformation_id: str | None = None
    module: str | None = None
    function: str | None = None
    io: str | None = None

    @classmethod
    def namespace(cls) -> str:
        return "odibi"


class OdibiTranslator:
    """How a project's rows become asset specs; override any ``get_*`` method in a subclass.

    ``resource_keys``: the engine and IO manager keys the assets require (set by
    ``build_definitions``; scoped per project where several share a code location).
    """

    def __init__(self, resource_keys: ResourceKeys | None = None) -> None:
        self.resource_keys = resource_keys or ResourceKeys()

    def get_asset_key(self, project: Project, table: str) -> dg.AssetKey:
        return asset_key(project.slug, table)

    def get_group_name(self, project: Project, layer: str) -> str:
        return layer

    def get_owners(self, project: Project) -> list[str]:
        return owners(project.manifest.owner)

    def get_tags(self, project: Project, row: Source | Transformation) -> dict[str, str]:
        """The manifest's tags, the row's ids and labels, and ``layer``."""
        manifest_tags = project.manifest.tags
        items = manifest_tags.items() if isinstance(manifest_tags, dict) else ((tag, "") for tag in manifest_tags)
        tags = {tag_value(key): tag_value(value) for key, value in items}
        if isinstance(row, Source):
            return {**tags, "layer": tag_value(project.manifest.bronze_layer), "source_id": tag_value(row.source_id)}
        labels = row.entity_labels(project.manifest.entity_labels)
        return {**tags, "layer": tag_value(row.layer), "transformation_id": tag_value(row.transformation_id),
                **{tag_value(label): tag_value(value) for label, value in labels.items()}}

    def get_asset_spec(self, project: Project, row: Source | Transformation, output: OutputSpec,
                       engine: str) -> dg.AssetSpec:
        """The spec of ``output`` (a source's bronze table: ``source.output``), stored by ``engine``."""
        storage = planned_format(engine, output.mode, output.format, output.partition_by,
                                 bool(output.partition_column))
        if isinstance(row, Source):
            layer, deps = project.manifest.bronze_layer, []
            description = source_description(row)
            kinds = source_kinds(row, engine, storage)
            about: dict[str, Any] = {**RowMetadata.model_construct(source_id=row.source_id,
                                                                   file_format=row.file_format),
                                     **source_code_references(row)}
        else:
            layer = row.layer
            deps = [self.get_asset_key(project, table) for table in row.input_tables]
            description = transformation_description(row, output, row.entity_labels(project.manifest.entity_labels))
            kinds = {engine, storage}
            about = {**RowMetadata.model_construct(transformation_id=row.transformation_id, module=row.module,
                                                   function=row.function, io=row.io),
                     **transformation_code_references(row, project.root)}
        table = TableMetadata.of(
            project=project.slug, env=project.env, layer=layer, table=output.table, mode=output.mode,
            format=output.format, merge_keys=output.merge_keys, partition_by=output.partition_by,
            schema_evolution=output.schema_evolution, null_keys=output.null_keys,
            cache_layer=project.manifest.cache_layer(output.table), partition_column=output.partition_column,
            track_columns=output.track_columns, effective_column=output.effective_column,
            scd2_deletes=output.scd2_deletes)
        return dg.AssetSpec(
            key=self.get_asset_key(project, output.table),
            deps=deps,
            description=description,
            group_name=self.get_group_name(project, layer),
            kinds=kinds,
            tags=self.get_tags(project, row),
            owners=self.get_owners(project),
            metadata={**table, **about, **declared_column_schema(output)},
            skippable=True,
            partitions_def=self.get_partitions_def(project, output),
            automation_condition=self.get_automation_condition(project, layer),
        ).with_io_manager_key(self.resource_keys.io_manager)

    def get_automation_condition(self, project: Project, layer: str) -> dg.AutomationCondition | None:
        """The layer's condition from the manifest's ``automation`` (None: not automated)."""
        return automation_condition(project, layer)

    def get_partitions_def(self, project: Project, output: OutputSpec) -> dg.PartitionsDefinition | None:
        """The project's partitions definition for a partitioned table (None for the others)."""
        if not output.partition_column or project.manifest.partitions is None:
            return None
        return partitions_definition(project.manifest.partitions)

    def get_quarantine_spec(self, project: Project, row: Source | Transformation, output: OutputSpec,
                            engine: str) -> dg.AssetSpec | None:
        """The quarantine table of ``output`` (None when no check quarantines rows): appended, in
        the same layer, with the same inputs."""
        if output.quarantine is None:
            return None
        # Delta unless the output names a format: each run appends a file, where a parquet append
        # would rewrite the whole (ever growing) quarantine table every run
        quarantine = OutputSpec(table=output.quarantine, mode="append", format=output.format or "delta",
                                schema_evolution=True)
        # one step's assets share one partitions definition: the quarantine table of a partitioned
        # table is partitioned like it in Dagster, and its rows are appended per partition run
        return self.get_asset_spec(project, row, quarantine, engine).replace_attributes(
            partitions_def=self.get_partitions_def(project, output),
            description=f"Rows of {output.table} that failed a quarantine check, with _failed_checks, "
                        f"_quarantined_at and _run_id; appended by the step that writes {output.table}.")

    def get_check_specs(self, project: Project, output: OutputSpec) -> list[dg.AssetCheckSpec]:
        """One asset check per configured check; ``on_fail: fail`` ones block downstream assets."""
        key = self.get_asset_key(project, output.table)
        return [dg.AssetCheckSpec(check.check_name, asset=key, description=check_description(check),
                                  blocking=check.on_fail == "fail")
                for check in output.checks]
