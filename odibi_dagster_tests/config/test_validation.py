"""Every bad input of the foundation issue, each with the file or table, the row and the field."""

import pandas as pd
import pytest

from odibi_dagster.config import ConfigError, load_project_folder

FUNCS = "def f(inputs):\n    return next(iter(inputs.values()))\n\ndef make():\n    return pd.DataFrame({'x': [1]})\n"
SOURCE = {"source_id": "s1", "source_name": "bronze.a", "file_format": "csv", "source_path_or_query": "a.csv"}


def row(tid, layer="Silver", inputs=("bronze.a",), outputs=None, **extra):
    return {"transformation_id": tid, "layer": layer, "function": "f", "inputs": list(inputs),
            "outputs": outputs or [{"table": f"{layer.lower()}.{tid}"}], **extra}


def errors(project_writer, **kwargs):
    root = project_writer.write(sources=kwargs.pop("sources", [SOURCE]), functions=FUNCS, **kwargs)
    with pytest.raises(ConfigError) as info:
        load_project_folder(root, env=kwargs.get("env"))
    return info.value, root


def only(error: ConfigError):
    assert len(error.issues) == 1, error.issues
    return error.issues[0]


def test_unknown_key_suggests_the_near_miss(project_writer):
    bad = row("t1")
    bad["fuction"] = bad.pop("function")
    error, root = errors(project_writer, transformations=[bad])
    messages = {issue.field: issue.message for issue in error.issues}
    assert "unknown key 'fuction' (did you mean 'function'?)" == messages["fuction"]
    assert messages["function"] == "missing required field"
    assert all(issue.row == "t1" and issue.where == str(root / "transformations.yaml") for issue in error.issues)
    assert "transformations.yaml:1, row 't1', field 'fuction'" in str(error)


def test_unknown_key_inside_an_output(project_writer):
    error, _ = errors(project_writer, transformations=[row("t1", outputs=[{"tabel": "silver.x"}])])
    fields = {issue.field: issue.message for issue in error.issues}
    assert fields["outputs.0.tabel"] == "unknown key 'tabel' (did you mean 'table'?)"
    assert fields["outputs.0.table"] == "missing required field"


def test_missing_required_field_names_row_by_position_when_id_missing(project_writer):
    bad = row("t1")
    del bad["transformation_id"]
    error, _ = errors(project_writer, transformations=[row("t0"), bad])
    issue = only(error)
    assert (issue.row, issue.field, issue.message) == ("#2", "transformation_id", "missing required field")
    assert issue.line is not None and issue.line > 1


def test_bad_yaml_names_file_and_line(project_writer):
    root = project_writer.write(sources=[SOURCE], transformations=[row("t1")], functions=FUNCS)
    (root / "transformations.yaml").write_text("- transformation_id: t1\n  layer: [Silver\n  function: f\n")
    with pytest.raises(ConfigError) as info:
        load_project_folder(root)
    issue = only(info.value)
    assert issue.where.endswith("transformations.yaml") and issue.line == 3
    assert "invalid YAML" in issue.message


def test_bad_json_file_names_line(project_writer):
    root = project_writer.write(sources=[SOURCE], transformations=[row("t1")], functions=FUNCS)
    (root / "manifest.yaml").unlink()
    (root / "manifest.json").write_text('{\n  "project_name": "x",\n  "layer_order": [Bronze]\n}')
    with pytest.raises(ConfigError) as info:
        load_project_folder(root)
    issue = only(info.value)
    assert issue.where.endswith("manifest.json") and issue.line == 3 and "invalid JSON" in issue.message


def test_bad_json_text_in_a_row(project_writer):
    error, _ = errors(project_writer, transformations=[row("t1", outputs='[{"table": "silver.x",}]')])
    issue = only(error)
    assert (issue.row, issue.field) == ("t1", "outputs") and issue.message.startswith("invalid JSON")


def test_input_that_nothing_provides(project_writer):
    error, _ = errors(project_writer, transformations=[row("t1", inputs=["bronze.aa"])])
    issue = only(error)
    assert (issue.row, issue.field) == ("t1", "inputs")
    assert issue.message == ("input 'bronze.aa' is not provided by any source or enabled transformation output "
                             "(did you mean 'bronze.a'?)")


def test_input_from_a_disabled_row_is_not_provided(project_writer):
    error, _ = errors(project_writer, transformations=[
        row("t1", enabled=False), row("t2", layer="Gold", inputs=["silver.t1"])])
    assert only(error).message.startswith("input 'silver.t1' is not provided")


def test_two_rows_writing_one_table(project_writer):
    error, _ = errors(project_writer, transformations=[
        row("t1", outputs=[{"table": "silver.x"}]), row("t2", outputs=[{"table": "silver.x"}])])
    issue = only(error)
    assert (issue.row, issue.field, issue.message) == ("t2", "outputs.0.table",
                                                       "table 'silver.x' is already written by 't1'")


def test_source_and_output_writing_one_table(project_writer):
    error, _ = errors(project_writer, transformations=[row("t1", outputs=[{"table": "bronze.a"}], inputs=[])])
    assert only(error).message == "table 'bronze.a' is already written by 's1'"


def test_dependency_cycle(project_writer):
    error, _ = errors(project_writer, transformations=[
        row("t1", inputs=["silver.t2"]), row("t2", inputs=["silver.t3"]), row("t3", inputs=["silver.t1"])])
    issue = only(error)
    assert issue.field == "inputs" and issue.message.startswith("dependency cycle: ")
    assert set(issue.message.removeprefix("dependency cycle: ").split(" -> ")) == {"t1", "t2", "t3"}


def test_input_from_a_later_layer(project_writer):
    error, _ = errors(project_writer, transformations=[row("t1", layer="Gold"), row("t2", inputs=["gold.t1"])])
    issue = only(error)
    assert (issue.row, issue.field) == ("t2", "inputs")
    assert issue.message == "input 'gold.t1' comes from layer 'Gold', which runs after 'Silver'"


def test_layer_not_in_layer_order(project_writer):
    error, _ = errors(project_writer, transformations=[row("t1", layer="Silvr")])
    issue = only(error)
    assert (issue.row, issue.field) == ("t1", "layer")
    assert "layer 'Silvr' is not in layer_order" in issue.message and "did you mean 'Silver'" in issue.message


def test_manifest_layers_and_cache_plan_must_name_known_layers(project_writer):
    error, root = errors(project_writer, transformations=[row("t1")],
                         manifest={"layers": {"Silver": {"depends_on": ["Bronz"]}}, "cache_plan": {"Platinum": []}})
    fields = {issue.field for issue in error.issues}
    # t1 reads from Bronze, which Silver does not depend on while its depends_on names no real layer
    assert fields == {"layers.Silver.depends_on", "cache_plan.Platinum", "inputs"}
    assert {issue.field: issue.where for issue in error.issues} == {
        "layers.Silver.depends_on": str(root / "manifest.yaml"), "cache_plan.Platinum": str(root / "manifest.yaml"),
        "inputs": str(root / "transformations.yaml")}


def test_environment_not_in_environments(project_writer):
    root = project_writer.write(sources=[SOURCE], transformations=[row("t1")], functions=FUNCS)
    with pytest.raises(ConfigError) as info:
        load_project_folder(root, env="uat")
    issue = only(info.value)
    assert issue.field == "environments" and "environment 'uat' is not in environments" in issue.message


def test_row_environment_not_in_environments(project_writer):
    error, _ = errors(project_writer, transformations=[row("t1"), row("t2", environment="prd")])
    issue = only(error)
    assert (issue.row, issue.field) == ("t2", "environment")


def test_function_that_cannot_be_imported(project_writer):
    error, _ = errors(project_writer, transformations=[
        row("t1", module="no_such_module_xyz"), row("t2", function="missing_fn")])
    by_row = {issue.row: issue for issue in error.issues}
    assert by_row["t1"].field == "module" and "No module named 'no_such_module_xyz'" in by_row["t1"].message
    assert by_row["t2"].field == "function" and "has no function 'missing_fn'" in by_row["t2"].message


def test_broken_disabled_and_other_env_rows_never_stop_loading(project_writer):
    broken = {"transformation_id": "old", "layer": "Nowhere", "module": "gone", "function": "x",
              "outputs": "{not json", "fuction": 1}
    root = project_writer.write(sources=[SOURCE], functions=FUNCS, transformations=[
        row("t1"), {**broken, "enabled": False}, {**broken, "transformation_id": "p", "environment": "prod"},
        {**broken, "transformation_id": "z", "enabled": 0}])
    project = load_project_folder(root)
    assert [t.transformation_id for t in project.transformations] == ["t1"]


def test_source_path_outside_the_project_must_exist(project_writer, tmp_path, monkeypatch):
    monkeypatch.setenv("ODIBI_SOURCE_ROOTS", str(tmp_path / "elsewhere"))
    outside = tmp_path / "elsewhere" / "missing.csv"
    error, _ = errors(project_writer, transformations=[row("t1")],
                      sources=[{**SOURCE, "source_path_or_query": str(outside)}])
    issue = only(error)
    assert (issue.row, issue.field) == ("s1", "source_path_or_query") and str(outside) in issue.message


def test_source_path_inside_the_project_may_appear_later(project_writer):
    root = project_writer.write(sources=[{**SOURCE, "source_path_or_query": "data/later.csv"}],
                                transformations=[row("t1")], functions=FUNCS)
    assert load_project_folder(root).sources[0].source_path_or_query == "data/later.csv"


def test_bad_values_in_rows(project_writer):
    error, _ = errors(project_writer, transformations=[
        row("t1", outputs=[{"table": "silver.x", "mode": "merge"}]),
        row("t2", constants={"engine": "sparkk"}),
        row("t3", outputs=[{"table": "../../etc/passwd"}]),
    ], sources=[{**SOURCE, "file_format": "xls"}])
    by_row = {issue.row: issue for issue in error.issues}
    assert "merge' but no 'merge_keys'" in by_row["t1"].message
    assert "constants.engine 'sparkk' is not an engine; choose one of pandas, spark" in by_row["t2"].message
    assert by_row["t3"].field == "outputs.0.table" and "must be identifiers" in by_row["t3"].message
    assert by_row["s1"].field == "file_format" and "unknown file_format 'xls'" in by_row["s1"].message


def test_every_error_is_reported_at_once(project_writer):
    bad = row("t1", layer="Nope")
    bad["fuction"] = "f"
    error, _ = errors(project_writer, transformations=[bad, row("t2", inputs=["bronze.zzz"])],
                      sources=[{**SOURCE, "file_format": "xls"}])
    assert {issue.row for issue in error.issues} == {"t1", "t2", "s1"}


def test_unknown_source_option_and_schema_type(project_writer):
    error, _ = errors(project_writer, transformations=[row("t1")], sources=[
        {**SOURCE, "source_options": {"delimeter": ";", "schema": {"a": "int"}}},
        {**SOURCE, "source_id": "s2", "source_name": "bronze.b", "source_options": {"schema": {"a": "decimal"}}}])
    by_row = {issue.row: issue for issue in error.issues}
    assert by_row["s1"].field == "source_options"
    assert "unknown option 'delimeter' (did you mean 'delimiter'?)" in by_row["s1"].message
    assert "schema type 'decimal' of column 'a' is not one of" in by_row["s2"].message


@pytest.mark.parametrize("options, message", [
    ({"header": "false"}, "option 'header' must be true or false, not 'false'"),  # text: true, a row lost
    ({"multiline": 1}, "option 'multiline' must be true or false, not 1"),
    ({"delimiter": ""}, "option 'delimiter' must be a non-empty text without line breaks or quotes, not ''"),
    ({"delimiter": "\n"}, "option 'delimiter' must be a non-empty text without line breaks or quotes"),
    ({"delimiter": "\\t"}, "a backslash and a letter; for a tab write"),  # '\t' in single quotes: Spark reads a tab
    ({"schema": None, "pandas": None}, None),  # left empty in YAML: none
    ({"encoding": "latin-9x"}, "option 'encoding': 'latin-9x' is not a text encoding Python knows"),
    ({"encoding": "rot13"}, "option 'encoding': 'rot13' is not a text encoding Python knows"),
    ({"schema": "id:long"}, "option 'schema' must be a mapping, not 'id:long'"),  # crashed the loader
    ({"pandas": "x"}, "option 'pandas' must be a mapping, not 'x'"),
    ({"null_values": "NA"}, "option 'null_values' must be a list of texts, e.g. ['NA', '', '-999'], not 'NA'"),
    ({"null_values": [True]}, "option 'null_values' must be a list of texts"),
])
def test_a_portable_source_option_of_the_wrong_kind_is_refused_at_load(project_writer, options, message):
    if message is None:
        root = project_writer.write(sources=[{**SOURCE, "source_options": options}], functions=FUNCS,
                                    transformations=[row("t1")])
        assert load_project_folder(root).sources[0].source_id == "s1"
        return
    error, _ = errors(project_writer, transformations=[row("t1")], sources=[{**SOURCE, "source_options": options}])
    issue = next(issue for issue in error.issues if issue.row == "s1")  # (t1's input is then missing too)
    assert issue.field == "source_options" and message in issue.message


def test_two_rows_with_one_dagster_step_name_are_refused_naming_both(project_writer):
    error, _ = errors(project_writer, transformations=[row("t-3", outputs=[{"table": "silver.c"}]),
                                                       row("t_3", outputs=[{"table": "silver.d"}])])
    issue = only(error)
    assert (issue.row, issue.field) == ("t_3", "transformation_id")
    assert issue.message == "'t_3' and 't-3' give one Dagster step name 'test_project__t_3': rename one"


def test_two_outputs_of_a_row_with_one_dagster_output_name_are_refused(project_writer):
    error, _ = errors(project_writer, transformations=[
        row("t1", outputs=[{"table": "silver.a__b"}, {"table": "silver__a.b"}])])
    issue = only(error)
    assert (issue.row, issue.field) == ("t1", "outputs.1.table")
    assert issue.message == ("outputs 'silver.a__b' and 'silver__a.b' give one Dagster output name "
                             "'silver__a__b': rename one")


def test_tables_that_differ_only_in_separators_stay_apart(project_writer, storage):
    """``silver.a_b`` and ``silver_a.b``: two asset keys, two folders, both written."""
    import dagster as dg

    from odibi_dagster.assets import build_definitions
    from odibi_dagster.config import load_project_folder

    root = project_writer.write(sources=[SOURCE], functions=FUNCS, data={"a.csv": "x\n1\n"}, transformations=[
        row("t1", outputs=[{"table": "silver.a_b"}]), row("t2", outputs=[{"table": "silver_a.b"}])])
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    with dg.instance_for_test() as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)
    assert result.success
    assert sorted(p.name for p in (storage / "qat" / "test_project" / "Silver").iterdir()) == ["silver.a_b",
                                                                                            "silver_a.b"]


@pytest.mark.parametrize("environments, message", [
    (["qat", "../x"], "environment '../x' names a storage folder"),
    (["qat", "a b"], "environment 'a b' names a storage folder"),
])
def test_an_environment_that_is_not_a_safe_folder_name_is_refused(project_writer, environments, message):
    error, _ = errors(project_writer, manifest={"environments": environments}, transformations=[row("t1")])
    issue = only(error)
    assert issue.field == "environments" and message in issue.message


def test_a_table_name_too_long_for_a_folder_is_refused(project_writer):
    error, _ = errors(project_writer, transformations=[row("t1", outputs=[{"table": "silver." + "x" * 250}])])
    issue = only(error)
    assert (issue.row, issue.field) == ("t1", "outputs.0.table")
    assert "has 257 characters; at most 200 (it names a folder)" in issue.message


@pytest.mark.parametrize("path, roots, shown", [
    ("../../../../../../../../etc/passwd", "", ("path '/etc/passwd' is outside the project folder and not under ODIBI_SOURCE_ROOTS "
                                             "(not set)")),
    ("/etc/passwd", "/srv/landing", ("path '/etc/passwd' is outside the project folder and not under the roots in "
                                    "ODIBI_SOURCE_ROOTS (/srv/landing)")),
    ("file:///etc/passwd", "", "path '/etc/passwd' is outside the project folder"),
    ("s3://lake/raw/x.csv", "", "URL 's3://lake/raw/x.csv' is not under ODIBI_SOURCE_ROOTS (not set)"),
    ("s3://lake/raw2/x.csv", "s3://lake/raw", "URL 's3://lake/raw2/x.csv' is not under the roots"),
    ("s3://lake/raw/../secret/x.csv", "s3://lake/raw", "URL 's3://lake/raw/../secret/x.csv' is not under"),
    ("https://data.example/public/%2e%2e/private/x.csv", "https://data.example/public", "is not under"),
    ("file://localhost/etc/passwd", "", "path '/etc/passwd' is outside the project folder"),
    ("file://otherhost/data/x.csv", "/data", "path '/otherhost/data/x.csv' is outside the project folder"),
])
def test_a_source_reads_only_inside_the_project_or_the_operators_roots(project_writer, monkeypatch, path, roots,
                                                                      shown):
    monkeypatch.setenv("ODIBI_SOURCE_ROOTS", roots)
    error, _ = errors(project_writer, transformations=[row("t1")], sources=[{**SOURCE, "source_path_or_query": path}])
    issue = only(error)
    assert (issue.row, issue.field) == ("s1", "source_path_or_query") and shown in issue.message


def test_the_operators_roots_allow_paths_and_url_prefixes(project_writer, tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "a.csv").write_text("x\n1\n")
    monkeypatch.setenv("ODIBI_SOURCE_ROOTS", f"S3://Lake/raw, {landing}")  # schemes and hosts: any case
    root = project_writer.write(functions=FUNCS, transformations=[row("t1")], sources=[
        {**SOURCE, "source_path_or_query": str(landing / "a.csv")},
        {**SOURCE, "source_id": "s2", "source_name": "bronze.b", "source_type": "s3",
         "source_path_or_query": "s3://lake/raw/2026/b.csv"}])
    assert [s.source_id for s in load_project_folder(root).sources] == ["s1", "s2"]


def test_a_sqlite_database_outside_the_roots_is_refused_at_load_and_at_read(project_writer, tmp_path, monkeypatch):
    from odibi_dagster.engines.readers import SourceReadError, read_source

    sql = {"source_id": "db", "source_name": "bronze.db", "file_format": "sql", "source_path_or_query": "select 1"}
    error, _ = errors(project_writer, transformations=[], sources=[
        {**sql, "connection_config": {"url": f"sqlite:///{tmp_path / 'other.db'}"}}])
    issue = only(error)
    assert (issue.row, issue.field) == ("db", "connection_config.url")
    assert f"path '{tmp_path / 'other.db'}' is outside the project folder" in issue.message
    monkeypatch.setenv("OTHER_DB", str(tmp_path / "other.db"))  # known only when read
    root = project_writer.write(functions=FUNCS, transformations=[],
                                sources=[{**sql, "connection_config": {"url": "sqlite:///${OTHER_DB}"}}])
    project = load_project_folder(root)
    with pytest.raises(SourceReadError, match=r"source 'db': the SQLite database path '\*\*\*' is outside"):
        read_source(project.sources[0], project.root)


def test_a_link_out_of_the_project_is_refused_when_read(project_writer, tmp_path):
    from odibi_dagster.engines.readers import SourceReadError, read_source

    (tmp_path / "secret.csv").write_text("x\n1\n")
    root = project_writer.write(functions=FUNCS, transformations=[], sources=[
        {**SOURCE, "source_path_or_query": "data/*.csv"}], data={"data/ok.csv": "x\n2\n"})
    project = load_project_folder(root)
    (root / "data" / "z.csv").symlink_to(tmp_path / "secret.csv")
    with pytest.raises(SourceReadError, match=rf"source 's1': path '{tmp_path / 'secret.csv'}' is outside"):
        read_source(project.sources[0], project.root)


@pytest.mark.parametrize("code, message", [
    (None, "cannot import module 'hooks_missing': ModuleNotFoundError"),
    ("def on_event(hooks):\n    pass\n", "module 'hooks_missing' has no register(hooks) function"),
])
def test_a_hooks_module_that_cannot_be_used_is_refused_at_load(project_writer, code, message):
    if code is not None:
        project_writer.root.mkdir(parents=True)
        (project_writer.root / "hooks_missing.py").write_text(code)
    error, _ = errors(project_writer, manifest={"hooks_module": "hooks_missing"}, transformations=[row("t1")])
    issue = only(error)
    assert issue.field == "hooks_module" and issue.message.startswith(message) and issue.where.endswith("manifest.yaml")


@pytest.mark.parametrize("name, text, line", [
    ("transformations.yaml", "- transformation_id: t1\n  layer: Silver\n  layer: Gold\n  function: f\n", 3),
    ("manifest.yaml", "project_name: A\nlayer_order: [Bronze, Silver]\nproject_name: B\n", 3),
    ("transformations.json", '[{"transformation_id": "t1", "layer": "Silver", "layer": "Gold"}]', None),
])
def test_a_key_given_twice_in_one_mapping_is_refused(project_writer, name, text, line):
    root = project_writer.write(sources=[SOURCE], functions=FUNCS, transformations=[row("t1")])
    if name.endswith(".json"):
        (root / "transformations.yaml").unlink()
    (root / name).write_text(text)
    with pytest.raises(ConfigError) as info:
        load_project_folder(root)
    issue = only(info.value)
    assert issue.where == str(root / name) and issue.line == line
    assert issue.field in ("layer", "project_name") and "appears twice" in issue.message


def test_a_text_where_a_list_of_inputs_is_wanted_says_so(project_writer):
    error, _ = errors(project_writer, transformations=[{**row("t1"), "inputs": "bronze.a"}])
    issue = only(error)
    assert (issue.row, issue.field) == ("t1", "inputs")
    assert issue.message == "expected a list, e.g. ['bronze.a'] (in a SQL table: JSON text); got the text 'bronze.a'"


def test_a_sql_url_whose_port_is_not_a_number_is_refused_at_load(project_writer, monkeypatch):
    monkeypatch.setenv("PW", "s3cret")
    url = "postgresql+psycopg2://etl:${PW}@db:abc/plant"
    error, _ = errors(project_writer, manifest={"log_sink": {"type": "sql", "url": url}}, sources=[
        SOURCE, {"source_id": "db", "source_name": "bronze.db", "file_format": "sql", "source_path_or_query": "t",
                 "connection_config": {"url": url}}],
        transformations=[row("t1", inputs=["bronze.a", {"type": "query", "sql": "select 1", "connection": url}])])
    found = {(issue.row, issue.field) for issue in error.issues}
    assert found == {(None, "log_sink.url"), ("db", "connection_config.url"), ("t1", "inputs.1.connection")}
    assert {issue.message for issue in error.issues} == {
        "the connection URL cannot be parsed: its port is not a number"}


def test_a_sql_url_with_a_dialect_sqlalchemy_does_not_know_is_refused_at_load(project_writer):
    url = "postgresqlx://etl:s3cret@db/plant"  # a typo: SQLAlchemy's own error says only "Can't load plugin"
    error, _ = errors(project_writer, manifest={"log_sink": {"type": "sql", "url": url}})
    issue = only(error)
    assert issue.field == "log_sink.url"
    assert issue.message == ("SQLAlchemy knows no dialect or driver 'postgresqlx' (check the URL's scheme, e.g. "
                             "postgresql+psycopg2://, or install the package that provides it)")


def test_a_secret_in_a_urls_scheme_is_not_shown_and_an_unknown_plugin_is_named(project_writer, monkeypatch,
                                                                                tmp_path):
    monkeypatch.setenv("PW", "Sup3rS3cret")  # a ${NAME} in the wrong place of the URL
    error, _ = errors(project_writer, manifest={"log_sink": {"type": "sql", "url": "${PW}://etl@db/plant"}})
    assert "Sup3rS3cret" not in str(error) and "no dialect or driver '***'" in only(error).message
    assert sql_read_error("sqlite:///x.db?plugin=nosuchplugin", tmp_path) == (
        "source 'db': cannot read 't': SQLAlchemy knows no plugin 'nosuchplugin' (the URL's plugin parameter)")


def test_a_sql_source_whose_driver_package_is_missing_says_which(tmp_path):
    """The dialect exists (so the URL passes at load); its DBAPI package is not installed here."""
    import importlib.util

    if importlib.util.find_spec("pyodbc"):
        pytest.skip("pyodbc is installed here: no missing driver to report")
    assert sql_read_error("mssql+pyodbc://etl:s3cret@db/plant", tmp_path) == (
        "source 'db': cannot read 't': the URL's driver needs the Python package 'pyodbc', which is not installed here")


def sql_read_error(url: str, root) -> str:
    """The error of reading table 't' through ``url`` as a SQL source."""
    from odibi_dagster.config import Source
    from odibi_dagster.engines.readers import SourceReadError, read_source

    src = Source(source_id="db", source_name="bronze.db", file_format="sql", source_path_or_query="t",
                 connection_config={"url": url})
    with pytest.raises(SourceReadError) as info:
        read_source(src, root)
    return str(info.value)


def test_a_row_of_another_project_is_refused(project_writer):
    error, _ = errors(project_writer, sources=[{**SOURCE, "project": "test project"}],  # the same, in other case
                      transformations=[row("t1", project="Something Else")])
    issue = only(error)
    assert (issue.row, issue.field) == ("t1", "project")
    assert issue.message == "the row belongs to project 'Something Else', not to this project 'Test Project'"


def test_yaml_merge_keys_may_still_override_what_they_merge(project_writer):
    root = project_writer.write(sources=[SOURCE], functions=FUNCS, transformations=[row("t1")])
    (root / "transformations.yaml").write_text(
        f"- &base {{transformation_id: t1, layer: Silver, function: f, module: {project_writer.module}, inputs: [bronze.a],\n"
        "         outputs: [{table: silver.t1}]}\n"
        "- <<: *base\n  transformation_id: t2\n  outputs: [{table: silver.t2}]\n")
    assert [t.transformation_id for t in load_project_folder(root).transformations] == ["t1", "t2"]


def test_a_key_given_twice_in_json_text_is_refused(project_writer):
    error, _ = errors(project_writer, transformations=[],
                      sources=[{**SOURCE, "source_options": '{"delimiter": ";", "delimiter": ","}'}])
    issue = only(error)
    assert (issue.row, issue.field) == ("s1", "source_options")
    assert "key 'delimiter' appears twice in one JSON object" in issue.message


def test_a_row_id_that_is_not_ascii_gets_an_ascii_step_name(project_writer, storage):
    import dagster as dg

    from odibi_dagster.assets import build_definitions

    root = project_writer.write(sources=[SOURCE], functions=FUNCS, data={"a.csv": "x\n1\n"},
                                transformations=[row("readings-cléan", outputs=[{"table": "silver.clean"}])])
    defs = build_definitions(load_project_folder(root), storage_root_dir=storage)
    with dg.instance_for_test() as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)
    assert result.success and "test_project__readings_cl_an" in {e.step_key for e in result.all_events if e.step_key}


@pytest.mark.parametrize("file_format", ["parquet", "delta"])
def test_a_link_inside_a_folder_source_is_refused_when_read(project_writer, tmp_path, file_format):
    from deltalake import write_deltalake

    from odibi_dagster.engines.readers import SourceReadError, read_source

    outside = tmp_path / "outside"
    write_deltalake(str(outside), pd.DataFrame({"x": [1]}))
    root = project_writer.write(functions=FUNCS, transformations=[], sources=[
        {**SOURCE, "file_format": file_format, "source_path_or_query": "data/folder"}])
    folder = root / "data" / "folder"
    folder.mkdir(parents=True)
    for item in outside.iterdir():  # the folder is inside the project, what it holds links out
        (folder / item.name).symlink_to(item)
    project = load_project_folder(root)
    with pytest.raises(SourceReadError, match=rf"source 's1': path '{outside}.*' is outside the project folder"):
        read_source(project.sources[0], project.root)


def test_a_bad_key_in_a_query_input_is_one_issue_without_union_noise(project_writer):
    bad = {"type": "query", "key": "q", "sql": "select 1", "connection": "sqlite:///q.db"}
    error, _ = errors(project_writer, transformations=[row("t1", inputs=["bronze.a", bad])])
    issue = only(error)
    assert (issue.row, issue.field) == ("t1", "inputs.1.key") and issue.message.startswith("unknown key 'key'")
