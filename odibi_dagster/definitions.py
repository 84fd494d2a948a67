"""The code location: ``dagster dev`` / ``dagster asset materialize -m odibi_dagster.definitions``.

Loads the project named by ``ODIBI_PROJECT_DIR`` (a folder) or ``ODIBI_CONFIG_DB`` +
``ODIBI_PROJECT`` (SQL tables), else the bundled demo; a config error stops the load with a
message naming file, row and field.
"""

from odibi_dagster.assets import build_definitions
from odibi_dagster.config import load_project_from_environment

defs = build_definitions(load_project_from_environment())
