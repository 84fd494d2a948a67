"""Every usage example of the seed document runs with only ``odibi_de_v2`` replaced.

The examples are read from docs/seed-dual-engine-orchestrator-update.md (a copy of the document
the project started from) and executed as they are. The one other substitution: the example's
placeholder ``/path/to/logs`` points into the test's temporary folder.
"""

import re
from pathlib import Path

SEED = Path(__file__).resolve().parents[2] / "docs" / "seed-dual-engine-orchestrator-update.md"


def examples() -> list[tuple[str, str]]:
    text = SEED.read_text(encoding="utf-8")
    usage = text.split("## Usage Examples", 1)[1].split("## Next Steps", 1)[0]
    found = re.findall(r"### ([^\n]+)\n```python\n(.*?)```", usage, flags=re.DOTALL)
    assert len(found) == 5, "the seed has five usage examples"
    return found


# the engine each example runs on when the manifest names none: the seed's default is Spark
ENGINES = {"Basic Spark Usage (default)": "spark", "Pandas Engine": "pandas", "With Custom Hooks": "spark",
           "With Custom Log Sink": "spark", "Pandas with Hooks and Custom Logging": "pandas"}


def test_seed_examples_run_in_order(demo_cwd, tmp_path, spark, capsys):
    manifest = demo_cwd / "projects" / "energy_efficiency" / "manifest.yaml"
    # the demo names pandas as its default_engine; the seed's project names none
    manifest.write_text("".join(line for line in manifest.read_text().splitlines(keepends=True)
                                if not line.startswith("default_engine:")))
    namespace = {"spark": spark}  # the seed's log-sink example expects the user's Spark session
    for title, code in examples():  # in document order, one namespace: example 2 reuses example 1's import
        code = code.replace("odibi_de_v2", "odibi_dagster").replace("/path/to/logs", str(tmp_path / "logs"))
        namespace.pop("result", None)
        exec(compile(code, f"<seed example: {title}>", "exec"), namespace)  # noqa: S102 - the seed's examples
        result = namespace["result"]
        assert result["status"] == "success", (title, result)
        assert (result["project"], result["env"], result["engine"]) == ("Energy Efficiency", "qat",
                                                                         ENGINES[title]), title
        out = capsys.readouterr().out
        if "Custom Hooks" in title:
            assert "Starting Silver_1" in out and "Completed Gold_2 in " in out
        if "Pandas with Hooks" in title:
            assert "Starting Energy Efficiency on pandas engine" in out
            lines = (tmp_path / "logs" / "transformation_log.csv").read_text().splitlines()
            assert len(lines) == 10  # header + 4 sources + 5 transformations
        if "Custom Log Sink" in title:
            from deltalake import DeltaTable

            log = DeltaTable(str(tmp_path / "storage" / "_logs" / "my_schema.CustomTransformationLog")).to_pandas()
            assert sorted(log["status"]) == ["SUCCESS"] * 9
