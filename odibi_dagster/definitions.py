"""The code location: ``dagster dev`` / ``dagster asset materialize -m odibi_dagster.definitions``.

Loads the project named by ``ODIBI_PROJECT_DIR`` (a folder) or ``ODIBI_CONFIG_DB`` +
``ODIBI_PROJECT`` (SQL tables), else the bundled demo; a config error stops the load with a
message naming file, row and field. Composes the project's assets, jobs and schedules with the
sensors that deliver its hooks and, when the manifest has ``automation``, the automation sensor.
"""

import gc

import dagster as dg

from odibi_dagster.gc_pause import collection_paused

# Everything imported so far (Dagster, and in a CLI run its instance) lives as long as the process:
# move it out of the garbage collector's sight, load and build the code location with no collection
# running (building allocates many long-lived objects and little garbage; collections scanning them
# took 15-30% of the load), collect once what the load left (a functions module may leave much),
# then move what was built out of sight too. Later collections skip all of it, and a CLI run no
# longer spends most of a second in the interpreter's final collection at exit (measured: 0.6-1.0 s
# of a 5 s `dagster asset materialize`).
gc.freeze()
with collection_paused():
    from odibi_dagster.config import load_project_from_environment
    from odibi_dagster.location import build_code_location

    project = load_project_from_environment()
    defs: dg.Definitions = build_code_location(project)
    gc.collect()  # never freeze garbage (frozen objects are not collected again), and scan once
    gc.freeze()
