"""Bronze readers on pandas: real files and real databases."""

import json

import pandas as pd
import pytest
import sqlalchemy as sa
from deltalake import write_deltalake

from odibi_dagster.config import Source
from odibi_dagster.config.connections import substitute_env
from odibi_dagster.engines.readers import SourceReadError, read_source


def source(fmt, path, **extra):
    return Source(source_id="src-x", source_name="bronze.x", file_format=fmt, source_path_or_query=path, **extra)


def test_csv_portable_options(tmp_path):
    (tmp_path / "a.csv").write_text("1;NA;2026-01-02\n2;;2026-01-03\n3;x;\n")
    frame = read_source(source("csv", "a.csv", source_options={
        "header": False, "delimiter": ";", "null_values": ["NA", ""],
        "schema": {"_c0": "long", "_c1": "string", "_c2": "date"}}), tmp_path)
    assert list(frame.columns) == ["_c0", "_c1", "_c2"]
    assert str(frame["_c0"].dtype) == "Int64"
    assert frame["_c1"].isna().tolist() == [True, True, False]
    assert frame["_c2"].dt.day.tolist()[:2] == [2, 3] and pd.isna(frame["_c2"].iloc[2])


def test_csv_default_nulls_are_only_empty_strings(tmp_path):
    (tmp_path / "a.csv").write_text("name,code\nNA,1\n,2\n")
    frame = read_source(source("csv", "a.csv"), tmp_path)
    assert frame["name"].tolist()[0] == "NA" and pd.isna(frame["name"].iloc[1])


def test_csv_glob_and_pandas_options(tmp_path):
    (tmp_path / "in").mkdir()
    for n in (1, 2):
        (tmp_path / "in" / f"part{n}.csv").write_text(f"# comment\nid\n{n}\n")
    frame = read_source(source("csv", "in/part*.csv", source_options={"pandas": {"comment": "#"}}), tmp_path)
    assert frame["id"].tolist() == [1, 2]


def test_json_records_and_lines(tmp_path):
    (tmp_path / "records.json").write_text(json.dumps([{"a": 1, "d": "2026-01-01"}, {"a": 2, "d": None}]))
    (tmp_path / "lines.json").write_text('{"a": 1}\n{"a": 2}\n')
    records = read_source(source("json", "records.json"), tmp_path)
    assert records["a"].tolist() == [1, 2] and records["d"].tolist()[0] == "2026-01-01"  # no date guessing
    assert read_source(source("json", "lines.json"), tmp_path)["a"].tolist() == [1, 2]
    forced = read_source(source("json", "lines.json", source_options={"multiline": False}), tmp_path)
    assert forced["a"].tolist() == [1, 2]


def test_parquet_and_delta(tmp_path):
    pd.DataFrame({"a": [1, 2]}).to_parquet(tmp_path / "a.parquet")
    assert read_source(source("parquet", "a.parquet"), tmp_path)["a"].tolist() == [1, 2]
    write_deltalake(str(tmp_path / "tbl"), pd.DataFrame({"a": [1, 2]}))
    write_deltalake(str(tmp_path / "tbl"), pd.DataFrame({"a": [3]}), mode="overwrite")
    assert read_source(source("delta", "tbl"), tmp_path)["a"].tolist() == [3]  # current version only


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(SourceReadError, match=r"source 'src-x': no file found at '.*/data/missing\.csv'"):
        read_source(source("csv", "data/missing.csv"), tmp_path)
    with pytest.raises(SourceReadError, match="no Delta table at"):
        read_source(source("delta", "nope"), tmp_path)


def test_sql_query_and_table_with_env_variables(tmp_path, monkeypatch):
    db = tmp_path / "w.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    pd.DataFrame({"plant": ["a", "b"], "t": [1.5, 2.5]}).to_sql("weather", engine, index=False)
    engine.dispose()
    monkeypatch.setenv("ODIBI_TEST_DB_FILE", "w.db")
    config = {"connection_config": {"url": "sqlite:///${ODIBI_TEST_DB_FILE}"}}  # relative to the project
    query = read_source(source("sql", "SELECT plant FROM weather WHERE t > 2", **config), tmp_path)
    assert query["plant"].tolist() == ["b"]
    table = read_source(source("sql", "weather", **config), tmp_path)
    assert table["t"].tolist() == [1.5, 2.5]


def test_missing_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("ODIBI_NOT_SET", raising=False)
    with pytest.raises(KeyError, match="environment variable 'ODIBI_NOT_SET' is not set"):
        read_source(source("sql", "t", connection_config={"url": "postgresql://u:${ODIBI_NOT_SET}@h/db"}), tmp_path)
    assert substitute_env({"a": ["x${HOME}"]}, "w")["a"][0].startswith("x/")


@pytest.mark.mariadb
def test_sql_wrong_password_error_has_no_password(mariadb_url, tmp_path, monkeypatch):
    secret = "Hunter2-Secret-Password"
    monkeypatch.setenv("ODIBI_TEST_SECRET", secret)
    url = sa.make_url(mariadb_url).set(password="${ODIBI_TEST_SECRET}").render_as_string(hide_password=False)
    url = url.replace("%24%7BODIBI_TEST_SECRET%7D", "${ODIBI_TEST_SECRET}")
    with pytest.raises(SourceReadError) as info:
        read_source(source("sql", "SELECT 1", connection_config={"url": url}), tmp_path)
    message = str(info.value)
    assert "Access denied" in message and "src-x" in message and "***" in message
    assert secret not in message and "${ODIBI_TEST_SECRET}" not in repr(info.value.__cause__)


def test_an_unparseable_sql_url_names_the_source_and_hides_the_password(tmp_path, monkeypatch):
    monkeypatch.setenv("ODIBI_TEST_SECRET", "p@ss:word99")  # not URL-encoded: the URL cannot be parsed
    config = {"url": "postgresql+psycopg2://etl:${ODIBI_TEST_SECRET}@127.0.0.1:1/ops"}
    with pytest.raises(ValueError) as info:
        read_source(source("sql", "SELECT 1", connection_config=config), tmp_path)
    assert str(info.value) == ("source 'src-x' connection_config.url: the connection URL cannot be parsed: URL-encode "
                               "special characters in its user and password (@ as %40, : as %3A, / as %2F)")


@pytest.mark.postgres
def test_sql_source_on_postgres(postgres_url, tmp_path):
    engine = sa.create_engine(postgres_url)
    pd.DataFrame({"plant": ["a"], "t": [1.0]}).to_sql("odibi_test_weather", engine, index=False)
    engine.dispose()
    frame = read_source(source("sql", "odibi_test_weather", connection_config={"url": postgres_url}), tmp_path)
    assert frame.to_dict("records") == [{"plant": "a", "t": 1.0}]


@pytest.mark.mariadb
def test_sql_source_and_query_on_mariadb(mariadb_url, tmp_path):
    engine = sa.create_engine(mariadb_url)
    frame = pd.DataFrame({"plant": ["a", "b"], "t": [1.5, 2.0], "n": [3, 4]})
    frame.to_sql("odibi_test_weather", engine, index=False, if_exists="replace")
    engine.dispose()
    table = read_source(source("sql", "odibi_test_weather", connection_config={"url": mariadb_url}), tmp_path)
    assert table.to_dict("records") == [{"plant": "a", "t": 1.5, "n": 3}, {"plant": "b", "t": 2.0, "n": 4}]
    query = read_source(source("sql", "SELECT plant, n * 10 AS n FROM odibi_test_weather WHERE t > 1.6",
                               connection_config={"url": mariadb_url}), tmp_path)
    assert query.to_dict("records") == [{"plant": "b", "n": 40}]


def test_every_portable_schema_type_has_a_pandas_type():
    from odibi_dagster.config.model import SCHEMA_TYPES
    from odibi_dagster.engines.readers import PANDAS_TYPES

    assert set(PANDAS_TYPES) == set(SCHEMA_TYPES)


@pytest.mark.parametrize("text, error", [
    ("a,b,c\n1,2,3,\n4,5,6,\n", None),  # a delimiter ending every data row adds an empty field, no data
    ("a,b,c\n1,2,3,7\n4,5,6\n", "the first data row has more fields than the header"),
    ("a,b,c\n1,2,3\n4,5,6,7,8\n", "cannot be parsed: Expected 3 fields in line 3, saw 5"),
    ("a,b,c\n1,\"2,3\n", "cannot be parsed: EOF inside string"),
    ("", "is empty"),
    ("a,b\n\xe9t\xe9,1\n", "is not valid utf-8 .* set source_options.encoding"),
    ("id,v,id\n1,2,3\n", r"the header names \['id'\] more than once"),
    ("a,,c\n1,2,3\n", "field 2 of the header is blank"),  # pandas would call it 'Unnamed: 1'
    ("a,b,c,\n1,2,3,\n", "field 4 of the header is blank"),
    ("\n\nid,v,id\n1,2,3\n", r"the header names \['id'\] more than once"),  # after blank lines
])
def test_a_malformed_csv_never_shifts_columns_and_errors_name_source_and_file(tmp_path, text, error):
    path = tmp_path / "a.csv"
    path.write_bytes(text.encode("latin-1"))
    if error is None:
        frame = read_source(source("csv", "a.csv"), tmp_path)
        assert frame.to_dict("list") == {"a": [1, 4], "b": [2, 5], "c": [3, 6]}
        return
    with pytest.raises(SourceReadError, match=rf"source 'src-x': file '{path}'.*{error}"):
        read_source(source("csv", "a.csv"), tmp_path)


def test_a_short_csv_row_is_padded_with_nulls_as_in_sparks_permissive_mode(tmp_path):
    (tmp_path / "a.csv").write_text("a,b,c\n1,2\n4,5,6\n")
    frame = read_source(source("csv", "a.csv"), tmp_path)
    assert frame[["a", "b"]].to_dict("list") == {"a": [1, 4], "b": [2, 5]}
    assert frame["c"].isna().tolist() == [True, False] and frame["c"].iloc[1] == 6


def test_binary_garbage_is_not_read_as_a_csv(tmp_path):
    (tmp_path / "a.csv").write_bytes(bytes(range(256)) * 8)
    with pytest.raises(SourceReadError, match=r"file '.*a.csv' is not text \(it holds NUL bytes\)"):
        read_source(source("csv", "a.csv"), tmp_path)


def test_a_utf16_csv_reads_with_its_encoding(tmp_path):
    (tmp_path / "a.csv").write_bytes("a,b\n1,x\n".encode("utf-16"))
    frame = read_source(source("csv", "a.csv", source_options={"encoding": "utf-16"}), tmp_path)
    assert frame.to_dict("list") == {"a": [1], "b": ["x"]}
    with pytest.raises(SourceReadError, match="holds NUL bytes.*set source_options.encoding"):
        read_source(source("csv", "a.csv"), tmp_path)


def test_a_schema_type_the_values_do_not_fit_names_source_and_column(tmp_path):
    (tmp_path / "mixed.csv").write_text("id,at\n1,2024-01-03 00:30:00\n2,2024-01-03T00:30:00+01:00\n")
    with pytest.raises(SourceReadError, match=r"source 'src-x': column 'at' cannot be read as timestamp"):
        read_source(source("csv", "mixed.csv", source_options={"schema": {"at": "timestamp"}}), tmp_path)


@pytest.mark.parametrize(("kind", "value"), [("double", "abc"), ("integer", "1.5"), ("boolean", "maybe")])
def test_a_typed_column_names_the_value_row_and_line_that_do_not_fit(tmp_path, kind, value):
    """pandas' own error ('could not convert string to float: ...') names neither column nor row."""
    rows = "".join(f"{i},1\n" for i in range(700))
    (tmp_path / "t.csv").write_text(f"id,x\n{rows}700,{value}\n")
    with pytest.raises(SourceReadError, match=rf"source 'src-x': file '.*t.csv': column 'x' cannot be read as \w+: "
                                              rf"'{value}' in data row 701 \(line 702 unless a quoted field spans "
                                              rf"lines\) \(source_options.schema\); nothing was read"):
        read_source(source("csv", "t.csv", source_options={"schema": {"x": kind}}), tmp_path)


def test_an_undecodable_byte_is_placed_by_line(tmp_path):
    """pandas decodes in chunks: its byte offset is the chunk's, not the file's."""
    rows = b"".join(b"%d,plain\n" % i for i in range(499))
    (tmp_path / "l.csv").write_bytes(b"id,name\n" + rows + b"499,caf\xe9\n")
    with pytest.raises(SourceReadError, match=r"is not valid utf-8 \(line 501, byte 8 of the line: .*\); set "
                                              r"source_options.encoding"):
        read_source(source("csv", "l.csv"), tmp_path)


@pytest.mark.parametrize("raw, options, error", [
    (b"\xef\xbb\xbfid,v,id\n1,2,3\n", {}, r"the header names \['id'\] more than once"),  # Excel's BOM
    (b"\xef\xbb\xbf,v\n1,2\n", {}, "field 1 of the header is blank"),
    (b"# exported\nid;v;id\n1;2;3\n", {"pandas": {"sep": ";", "comment": "#"}}, r"the header names \['id'\] more than once"),
    (b"junk,,\nid,v,id\n1,2,3\n", {"pandas": {"skiprows": 1}}, r"the header names \['id'\] more than once"),
    (b"# a,,\na,b\n1,2\n", {"pandas": {"comment": "#"}}, None),  # the comment is not the header
    (b"title,,\nid,v,id\n1,2,3\n", {"pandas": {"header": 1}}, r"the header names \['id'\] more than once"),
    (b"Exported 2026-01-01\nid,id.1\n1,2\n", {"pandas": {"header": 1}}, None),  # a title line of one field
    (b"id,\n1,2\n", {"pandas": {"engine": "pyarrow"}}, "field 2 of the header is blank"),  # it renames nothing
    (b"id,id\n1,2\n", {"pandas": {"engine": "pyarrow"}}, r"the header names \['id'\] more than once"),
    (b"id,v\n1,2\n", {"pandas": {"engine": "pyarrow"}}, None),
    (b"id,id.1,Unnamed: 2\n1,2,3\n", {}, None),  # names a file may really have
])
def test_the_header_is_judged_as_the_reader_reads_it(tmp_path, raw, options, error):
    path = tmp_path / "a.csv"
    path.write_bytes(raw)
    src = source("csv", "a.csv", source_options=options)
    if error is None:
        assert len(read_source(src, tmp_path).columns) in (2, 3)
        return
    with pytest.raises(SourceReadError, match=rf"source 'src-x': file '{path}': {error}"):
        read_source(src, tmp_path)


def test_files_of_one_source_need_the_same_columns_in_any_order(tmp_path):
    (tmp_path / "a.csv").write_text("id,v\n1,x\n")
    (tmp_path / "b.csv").write_text("v,id\ny,2\n")
    assert read_source(source("csv", "*.csv"), tmp_path).to_dict("list") == {"id": [1, 2], "v": ["x", "y"]}
    (tmp_path / "c.csv").write_text("id,v,w\n3,z,9\n")  # concatenated, a and b's rows would get w = null
    with pytest.raises(SourceReadError, match=rf"source 'src-x': file '{tmp_path}/c.csv' has other columns than "
                                              rf"'{tmp_path}/a.csv' \(more: \['w'\], fewer: \[\]\)"):
        read_source(source("csv", "*.csv"), tmp_path)


def test_a_delimiter_of_several_characters_is_refused_on_pandas(tmp_path):
    """pandas would read '.;' as a regular expression ('2a;y' splits at 'a;') and keep quote marks."""
    (tmp_path / "a.csv").write_text('id.;name\n1.;"x"\n2a;y\n')
    with pytest.raises(SourceReadError, match=r"source 'src-x': delimiter '\.;' has several characters, which pandas "
                                              r"reads as a regular expression and without quoting"):
        read_source(source("csv", "a.csv", source_options={"delimiter": ".;"}), tmp_path)


def test_a_compressed_csv_reads_on_pandas(tmp_path):
    import gzip

    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(b"id,v\n1,x\n"))  # refused before as "not text"
    assert read_source(source("csv", "a.csv.gz"), tmp_path).to_dict("list") == {"id": [1], "v": ["x"]}
