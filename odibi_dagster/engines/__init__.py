"""Engines and IO: the engine resource, the IO manager, table storage, bronze readers."""

from odibi_dagster.engines.io_manager import OdibiIOManager
from odibi_dagster.engines.resource import OdibiEngine
from odibi_dagster.engines.storage import TableLocation

__all__ = ["OdibiEngine", "OdibiIOManager", "TableLocation"]
