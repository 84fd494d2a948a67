"""Two projects whose modules share names load and run side by side in one process."""

import textwrap
from pathlib import Path

import dagster as dg
import yaml

from odibi_dagster.assets import build_definitions
from odibi_dagster.config import load_project_folder
from odibi_dagster.engines.arrow_tables import read_frame
from odibi_dagster.engines.storage import TableLocation
from odibi_dagster.hooks.loading import load_project_hooks


def write(root: Path, name: str, factor: int) -> Path:
    """A project with ``functions.py`` (same name in both) that imports a sibling ``helpers.py``."""
    root.mkdir(parents=True)
    (root / "manifest.yaml").write_text(yaml.safe_dump({
        "project_name": name, "layer_order": ["Bronze", "Silver"], "retry": {"max_retries": 0},
        "hooks_module": "hooks"}))
    (root / "sources.yaml").write_text(yaml.safe_dump([
        {"source_id": "s", "source_name": "bronze.n", "file_format": "csv", "source_path_or_query": "n.csv"}]))
    (root / "transformations.yaml").write_text(yaml.safe_dump([
        {"transformation_id": "t", "layer": "Silver", "module": "functions", "function": "scale",
         "inputs": ["bronze.n"], "outputs": [{"table": "silver.n"}]}]))
    (root / "n.csv").write_text("n\n1\n2\n")
    (root / "helpers.py").write_text(f"FACTOR = {factor}\n")
    (root / "functions.py").write_text(textwrap.dedent("""
        from odibi_dagster import odibi_function
        from . import helpers

        @odibi_function(engine="pandas")
        def scale(inputs):
            return inputs["bronze.n"].assign(n=lambda f: f["n"] * helpers.FACTOR)
    """))
    (root / "hooks.py").write_text(f"def register(hooks):\n    hooks.register('layer_end', lambda p: {factor})\n")
    return root


def test_two_projects_with_same_named_modules_run_side_by_side(tmp_path):
    projects = [load_project_folder(write(tmp_path / name, name, factor))
                for name, factor in (("Alpha", 10), ("Beta", 100))]
    storage = tmp_path / "storage"
    with dg.instance_for_test() as instance:
        for project in projects:
            defs = build_definitions(project, storage_root_dir=storage)
            assert defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance).success
    alpha, beta = (read_frame(TableLocation(storage, "qat", p.slug, "Silver", "silver.n"))["n"].tolist()
                   for p in projects)
    assert (alpha, beta) == ([10, 20], [100, 200])  # each project ran its own functions.py
    hooks = [load_project_hooks(p).list_hooks()["layer_end"][0]["callback"]({}) for p in projects]
    assert hooks == [10, 100]  # and registered its own hooks.py
