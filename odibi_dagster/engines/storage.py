"""The one place that knows where tables live: ``<root>/<env>/<project_slug>/<layer>/<table>``,
and the typed ``odibi/*`` metadata through which the asset factory tells the IO manager where and
how to store each asset's table.

A table is a folder. It holds either a Delta table (``_delta_log/`` + parquet parts) or a single
``data.parquet`` file; whichever engine wrote it last, both engines can read it.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import dagster as dg

# public in Dagster's API reference, not re-exported at the top level in 1.13
from dagster._core.definitions.metadata import NamespacedMetadataSet

from odibi_dagster.config.model import LAYER_NAME, STORAGE_NAME, TABLE_NAME
from odibi_dagster.partitions.window import PartitionWindow

StoredFormat = Literal["parquet", "delta"]
PARQUET_FILE = "data.parquet"
LOCK_FILE = ".odibi.lock"
# held by an incremental source's step from reading its mark to recording the new one: two runs at
# once would otherwise read the same mark and append the same rows twice
INCREMENTAL_LOCK = ".odibi.incremental.lock"
PARQUET_TMP_PREFIX = f".{PARQUET_FILE}."  # + a random hex + ".tmp": a parquet write in progress


def planned_format(engine: str, mode: str, format: str | None = None, partition_by: Sequence[str] = (),
                   per_partition: bool = False) -> StoredFormat:
    """The format a new table gets: the output's ``format``, else Delta on Spark, for ``merge`` and
    for partitioned outputs (``partition_by``, or a ``partition_column`` written per partition), else parquet."""
    named = stored_format(format)
    if named is not None:
        return named
    return "delta" if engine == "spark" or mode in ("merge", "scd2") or partition_by or per_partition else "parquet"


def stored_format(value: str | None) -> StoredFormat | None:
    """A format named in config or metadata, as a ``StoredFormat`` (None when none is named)."""
    return "parquet" if value == "parquet" else "delta" if value == "delta" else None


def project_folder(root: Path, env: str, project_slug: str) -> Path:
    """``<root>/<env>/<project_slug>``: where a project's tables of one environment live."""
    for name in (env, project_slug):
        if not STORAGE_NAME.match(name):
            raise ValueError(f"'{name}' is not a safe storage name")
    return root / env / project_slug


@dataclass(frozen=True)
class TableLocation:
    root: Path
    env: str
    project_slug: str
    layer: str
    table: str

    def __post_init__(self) -> None:
        # Names come from validated config; check again so no path can leave the storage root.
        project_folder(self.root, self.env, self.project_slug)
        for name, pattern in ((self.table, TABLE_NAME), (self.layer, LAYER_NAME)):
            if not pattern.match(name):
                raise ValueError(f"'{name}' is not a safe storage name")

    # the names were checked once, in __post_init__; a step asks for these paths many times
    @cached_property
    def path(self) -> Path:
        return self.root / self.env / self.project_slug / self.layer / self.table

    @cached_property
    def parquet_file(self) -> Path:
        return self.path / PARQUET_FILE

    @cached_property
    def delta_log(self) -> Path:
        return self.path / "_delta_log"

    def stored_format(self) -> StoredFormat | None:
        """What is on disk now: Delta wins when both exist (a Delta commit is the newer write)."""
        if self.delta_log.is_dir() and any(self.delta_log.glob("*.json")):
            return "delta"
        if self.parquet_file.is_file():
            return "parquet"
        return None

    def elsewhere(self) -> list[TableLocation]:
        """The same table stored under other layers of the project (left behind by a renamed layer)."""
        folder = project_folder(self.root, self.env, self.project_slug)
        return [replace(self, layer=path.parent.name) for path in sorted(folder.glob(f"*/{self.table}"))
                if path.parent.name != self.layer and LAYER_NAME.match(path.parent.name)
                and replace(self, layer=path.parent.name).stored_format() is not None]

    @contextmanager
    def locked(self, name: str = LOCK_FILE) -> Iterator[None]:
        """Hold the table's write lock: writers in any process on this machine take turns, so a
        read-modify-write (a parquet append, a format switch) never loses another writer's rows.
        ``name``: another lock of the table (``INCREMENTAL_LOCK``), held around a longer span."""
        release = self.hold(name)
        try:
            yield
        finally:
            release()

    def hold(self, name: str = LOCK_FILE) -> Callable[[], None]:
        """Take the lock ``name`` of the table (as ``locked``) until the returned function is called
        (once or more): for a span that a ``with`` block cannot close, such as a step's generator,
        which Dagster may leave suspended when writing its output fails."""
        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / name, "a")  # noqa: SIM115 - closed by the returned function
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except BaseException:
            handle.close()
            raise
        return handle.close  # closing the file releases the lock; closing again does nothing


OWNER_FILE = ".odibi_project"


class StorageOwnerError(RuntimeError):
    """Another project already stores its tables in this project's folder."""


FileIdentity = tuple[int, int, int]  # inode, size, modification time (ns)


def file_identity(path: Path) -> FileIdentity | None:
    """Which file is at ``path`` now (None: none): another writer's replacement has another identity."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


_CLAIMED: dict[Path, tuple[FileIdentity | None, str]] = {}


def claim_project_folder(root: Path, env: str, project_slug: str, project_name: str) -> None:
    """``<root>/<env>/<project_slug>`` remembers the project that wrote there first: two projects whose
    names give one slug (``Sales EU``, ``sales-eu``) would otherwise overwrite each other's tables."""
    folder = project_folder(root, env, project_slug)
    owner = folder / OWNER_FILE
    identity = file_identity(owner)
    if identity is not None and _CLAIMED.get(owner) == (identity, project_name):
        return  # this process read this very owner file for this project before (every step claims)
    if identity is None:
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / f"{OWNER_FILE}.{os.getpid()}.{uuid.uuid4().hex}"
        staged.write_text(json.dumps({"project_name": project_name}), encoding="utf-8")
        try:
            os.link(staged, owner)  # atomic, and fails if another writer claimed the folder first
        except FileExistsError:
            pass
        finally:
            staged.unlink()
    claimed = json.loads(owner.read_text(encoding="utf-8")).get("project_name", "")
    if claimed.casefold() == project_name.casefold():
        _CLAIMED[owner] = (file_identity(owner), project_name)
    else:
        raise StorageOwnerError(
            f"storage folder {folder} belongs to project '{claimed}'; project '{project_name}' has the same slug "
            f"'{project_slug}' and would overwrite its tables: rename one of the projects (or give it another "
            f"storage root)")


@dataclass(frozen=True)
class WriteSpec:
    """How to write one table (an output's ``mode``, ``format``, ``merge_keys``, ...)."""

    mode: str = "overwrite"
    format: StoredFormat | None = None
    merge_keys: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    schema_evolution: bool = False
    null_keys: str = "error"
    partition_column: str | None = None
    window: PartitionWindow | None = None  # a partitioned write: exactly these rows are replaced
    track_columns: tuple[str, ...] = ()  # scd2: the columns whose change makes a version (empty: all)
    effective_column: str | None = None  # scd2: each change's time (None: the run's start)
    scd2_deletes: str = "ignore"
    started_at: datetime | None = None  # scd2: the run's start (the default valid_from and close time)


class TableMetadata(NamespacedMetadataSet):
    """An asset's ``odibi/*`` definition metadata: written by the asset specs, read by the IO manager."""

    project: str | None = None
    env: str | None = None
    layer: str | None = None
    table: str | None = None
    mode: str | None = None
    format: str | None = None
    merge_keys: dg.JsonMetadataValue | None = None
    partition_by: dg.JsonMetadataValue | None = None
    schema_evolution: bool | None = None
    null_keys: str | None = None
    cache_layer: str | None = None  # cache_plan: cached after this layer (Spark), skipped on pandas
    partition_column: str | None = None  # written per partition (the project's partitions definition)
    track_columns: dg.JsonMetadataValue | None = None  # scd2
    effective_column: str | None = None  # scd2
    scd2_deletes: str | None = None  # scd2

    @classmethod
    def namespace(cls) -> str:
        return "odibi"

    @classmethod
    def of_asset(cls, definition_metadata: Mapping[str, Any]) -> TableMetadata:
        """``extract`` of an asset's definition metadata, done once per metadata object: the IO
        manager reads it for every input and output of every step, and a validating ``extract``
        costs more than the rest of a small table's load. The cache holds the mapping itself, so an
        id is never reused while its entry lives; Dagster does not change definition metadata."""
        cached = _EXTRACTED.get(id(definition_metadata))
        if cached is not None and cached[0] is definition_metadata:
            return cached[1]
        table = cls.extract(definition_metadata)
        if len(_EXTRACTED) >= _EXTRACTED_MAX:
            _EXTRACTED.clear()
        _EXTRACTED[id(definition_metadata)] = (definition_metadata, table)
        return table

    @classmethod
    def of(cls, *, project: str, env: str, layer: str, table: str, mode: str, format: str | None,
           merge_keys: Sequence[str], partition_by: Sequence[str], schema_evolution: bool,
           null_keys: str, cache_layer: str | None, partition_column: str | None = None,
           track_columns: Sequence[str] = (), effective_column: str | None = None,
           scd2_deletes: str = "ignore") -> TableMetadata:
        # model_construct: the values come typed from the validated config; a validating __init__
        # per asset costs more than the rest of the spec for large projects
        return cls.model_construct(project=project, env=env, layer=layer, table=table, mode=mode, format=format,
                                   merge_keys=dg.MetadataValue.json(list(merge_keys)),
                                   partition_by=dg.MetadataValue.json(list(partition_by)),
                                   schema_evolution=schema_evolution, null_keys=null_keys, cache_layer=cache_layer,
                                   partition_column=partition_column,
                                   track_columns=dg.MetadataValue.json(list(track_columns)),
                                   effective_column=effective_column, scd2_deletes=scd2_deletes)

    def location(self, root: Path) -> TableLocation:
        if None in (self.env, self.project, self.layer, self.table):
            raise ValueError(f"asset metadata names no complete table location: {dict(self)}")
        return TableLocation(root, str(self.env), str(self.project), str(self.layer), str(self.table))

    def write_spec(self, window: PartitionWindow | None = None, started_at: datetime | None = None) -> WriteSpec:
        """How to write the table; ``window``: the partitions a partitioned write replaces;
        ``started_at``: the run's start (an scd2 table's default valid_from)."""
        return WriteSpec(
            mode=self.mode or "overwrite",
            format=stored_format(self.format),
            merge_keys=tuple(self.merge_keys.value if self.merge_keys else ()),
            partition_by=tuple(self.partition_by.value if self.partition_by else ()),
            schema_evolution=bool(self.schema_evolution),
            null_keys=self.null_keys or "error",
            partition_column=self.partition_column,
            window=window if self.partition_column else None,
            track_columns=tuple(self.track_columns.value if self.track_columns else ()),
            effective_column=self.effective_column,
            scd2_deletes=self.scd2_deletes or "ignore",
            started_at=started_at,
        )


_EXTRACTED: dict[int, tuple[Mapping[str, Any], TableMetadata]] = {}
_EXTRACTED_MAX = 10_000

# The op tag naming a transformation's engine override; the IO manager loads its inputs for it.
ENGINE_TAG = "odibi/engine"
# The op tag of a partitioned step: the IO manager loads its partitioned inputs for its partitions only.
PARTITIONED_TAG = "odibi/partitioned"
# An output's metadata entry saying how an incremental source's rows were loaded: `full` (the first
# load, or a full refresh) replaces the table; `incremental` appends or merges the new rows.
LOAD = "odibi/load"
FULL_LOAD = "full"
