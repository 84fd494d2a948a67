"""Import a project's own modules (functions, hooks) under a package of that project alone.

A module that lives in the project folder (``module: energy_functions`` beside the manifest) is
imported as ``odibi_project_<hash of the folder>.energy_functions``; the folder is never put on
``sys.path``. So two projects whose modules share a name (``functions.py``) load side by side in
one process (several Components in one code location), each getting its own. Inside such a
module, import its siblings relatively (``from . import helpers``). A module that is not in the
folder is imported by its plain name (an installed package).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


@functools.cache
def project_package(root: Path) -> str:
    """The name of the package that holds ``root``'s modules (created on first use)."""
    root = root.resolve()
    name = f"odibi_project_{hashlib.sha256(str(root).encode()).hexdigest()[:12]}"
    if name not in sys.modules:
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(root)]
        package = importlib.util.module_from_spec(spec)
        package.__doc__ = f"The modules of the odibi_dagster project in {root}"
        sys.modules[name] = package
    return name


@functools.cache  # many rows name the same module: look at the folder once
def lives_in(module: str, root: Path | None) -> bool:
    """Whether ``module``'s top-level name is a file or package in the project folder."""
    if root is None:
        return False
    top = module.split(".")[0]
    return (root / f"{top}.py").is_file() or (root / top).is_dir()


def import_project_module(module: str, root: Path | None) -> ModuleType:
    """Import ``module``: from the project folder under the project's package, else by its name."""
    if root is not None and lives_in(module, root):
        imported = importlib.import_module(f"{project_package(root)}.{module}")
        if "pyspark" in sys.modules:  # Spark is in use; else the Spark session does this when it starts
            ship_project_modules()
        return imported
    return importlib.import_module(module)


def ship_project_modules() -> None:
    """Let Spark's Python workers run the project modules' functions (a UDF defined at a module's
    top level): the workers cannot import a project's package, which exists in this process only,
    so its modules' functions are pickled whole rather than by name. Called when Spark starts."""
    from pyspark import cloudpickle

    for name, module in list(sys.modules.items()):  # a package covers the modules it imports later too
        if name.startswith("odibi_project_") and module is not None:
            cloudpickle.register_pickle_by_value(module)
