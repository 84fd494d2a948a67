"""The code location: ``dagster dev`` / ``dagster asset materialize -m odibi_dagster.definitions``.

Loads the project named by ``ODIBI_PROJECT_DIR`` (a folder) or ``ODIBI_CONFIG_DB`` +
``ODIBI_PROJECT`` (SQL tables), else the bundled demo; a config error stops the load with a
message naming file, row and field. Composes the project's assets, jobs and schedules with the
sensors that deliver its hooks and, when the manifest has ``automation``, the automation sensor.
"""

import gc

import dagster as dg

from odibi_dagster.config import load_project_from_environment
from odibi_dagster.location import build_code_location

# Everything imported so far (Dagster, and in a CLI run its instance) lives as long as the process:
# move it out of the garbage collector's sight before the project's own imports (pandas, the
# functions) and the assets are built, and again after. Later collections skip it, and a CLI run no
# longer spends most of a second in the interpreter's final collection at exit (measured: 0.6-1.0 s
# of a 5 s `dagster asset materialize`; the collections while loading a project: about 0.1 s).
gc.freeze()
project = load_project_from_environment()
defs: dg.Definitions = build_code_location(project)
gc.freeze()
