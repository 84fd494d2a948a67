"""Bronze readers on Spark give the columns, types and nulls the pandas readers give."""

import json

import pandas as pd
import pytest
import sqlalchemy as sa
from deltalake import write_deltalake

from odibi_dagster.config import Source
from odibi_dagster.engines.readers import SourceReadError
from odibi_dagster.engines.readers import read_source as read_pandas
from odibi_dagster.engines.spark_readers import read_source as read_spark

# Spark type name -> the pandas dtype kind the pandas reader gives for the same column
KINDS = {"bigint": "iu", "int": "iu", "double": "f", "string": "O", "boolean": "b", "date": "M", "timestamp": "M",
         "timestamp_ntz": "M"}


def source(fmt, path, **extra):
    return Source(source_id="src-x", source_name="bronze.x", file_format=fmt, source_path_or_query=path, **extra)


def assert_same(spark, src, root):
    on_pandas = read_pandas(src, root)
    frame = read_spark(spark, src, root, native_delta=False)
    on_spark = frame.toPandas()
    assert list(on_spark.columns) == list(on_pandas.columns)
    for name, spark_type in frame.dtypes:
        kind = on_pandas[name].dtype.kind if on_pandas[name].dtype != "Int64" else "i"
        if str(on_pandas[name].dtype) == "boolean":
            kind = "b"
        assert kind in KINDS[spark_type], f"{name}: spark {spark_type} vs pandas {on_pandas[name].dtype}"
    assert on_spark.isna().values.tolist() == on_pandas.isna().values.tolist()
    left = on_spark.astype(str).where(on_spark.notna(), None)
    right = on_pandas.astype(str).where(on_pandas.notna(), None)
    for name in on_pandas.columns:
        if on_pandas[name].dtype.kind == "M":
            continue  # compared through nulls above; text forms of dates differ by engine
        assert left[name].tolist() == right[name].tolist(), name
    return on_spark


def test_csv_options_match(spark, tmp_path):
    (tmp_path / "a.csv").write_text("id;name;score;day\n1;NA;2.5;2026-01-02\n2;;3;2026-01-03\n3;x;;\n")
    options = {"header": True, "delimiter": ";", "null_values": ["NA", ""], "schema": {"id": "long",
                                                                                       "day": "date"}}
    frame = assert_same(spark, source("csv", "a.csv", source_options=options), tmp_path)
    assert frame["name"].isna().tolist() == [True, True, False]


def test_csv_without_header_and_default_nulls(spark, tmp_path):
    (tmp_path / "b.csv").write_text("1,NA\n2,\n")
    frame = assert_same(spark, source("csv", "b.csv", source_options={"header": False}), tmp_path)
    assert frame["_c1"].tolist()[0] == "NA"  # only the empty string is null by default, on both engines


def test_json_records_and_lines_match(spark, tmp_path):
    (tmp_path / "r.json").write_text(json.dumps([{"a": 1, "b": "x"}, {"a": 2, "b": None}]))
    (tmp_path / "l.json").write_text('{"a": 1, "b": "x"}\n{"a": 2}\n')
    assert_same(spark, source("json", "r.json", source_options={"multiline": True}), tmp_path)
    assert_same(spark, source("json", "l.json"), tmp_path)


def test_parquet_glob_delta_and_sql_match(spark, tmp_path):
    for n in (1, 2):
        # microseconds: Spark 4 refuses parquet TIMESTAMP(NANOS) (pandas' default unit; see the README)
        pd.DataFrame({"a": [n], "t": pd.to_datetime([f"2026-01-0{n}"])}).to_parquet(
            tmp_path / f"p{n}.parquet", coerce_timestamps="us")
    assert len(assert_same(spark, source("parquet", "p*.parquet"), tmp_path)) == 2
    write_deltalake(str(tmp_path / "d"), pd.DataFrame({"a": [1, 2]}))
    write_deltalake(str(tmp_path / "d"), pd.DataFrame({"a": [3]}), mode="overwrite")
    assert assert_same(spark, source("delta", "d"), tmp_path)["a"].tolist() == [3]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    pd.DataFrame({"plant": ["a", None], "t": [1.5, 2.5]}).to_sql("w", engine, index=False)
    engine.dispose()
    assert_same(spark, source("sql", "SELECT * FROM w", connection_config={"url": "sqlite:///w.db"}), tmp_path)


def test_missing_file_on_spark_names_the_path(spark, tmp_path):
    with pytest.raises(SourceReadError, match="no file found at"):
        read_spark(spark, source("csv", "missing.csv"), tmp_path, native_delta=False)


def test_a_ragged_csv_row_fails_on_spark_unless_permissive(spark, tmp_path):
    """Spark's default PERMISSIVE mode would drop the extra field silently; FAILFAST names the record."""
    (tmp_path / "a.csv").write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    with pytest.raises(Exception, match=r"(?s)a\.csv.*Malformed CSV record: 4,5,6,7"):
        read_spark(spark, source("csv", "a.csv"), tmp_path, native_delta=False).collect()
    permissive = source("csv", "a.csv", source_options={"spark": {"mode": "PERMISSIVE"}})
    rows = read_spark(spark, permissive, tmp_path, native_delta=False).collect()
    assert [tuple(row) for row in rows] == [(1, 2, 3), (4, 5, 6)]


@pytest.mark.parametrize("text, options, error", [
    ("id,v,id\n1,2,3\n", {}, r"the header names \['id'\] more than once"),  # Spark: id0, v, id2
    ("ID,v,id\n1,2,3\n", {}, r"the header names \['ID', 'id'\] more than once \(names differing only in case"),
    ("a,,c\n1,2,3\n", {}, "field 2 of the header is blank"),  # Spark: _c1
    ("\ufeffid,v,id\n1,2,3\n", {}, r"the header names \['id'\] more than once"),  # Excel's BOM
    ("a1,a,a\n1,2,3\n", {}, r"the header names \['a'\] more than once"),  # Spark: a1 twice, which it refuses
    ("id,NA,c\n1,2,3\n", {"null_values": ["NA"]}, r"field 2 of the header is blank or 'NA' \(which Spark reads"),
    ("id;v;id\n1;2;3\n", {"spark": {"Sep": ";"}}, r"the header names \['id'\] more than once"),
    ("# c,,\nid,v,c\n1,2,3\n", {"spark": {"comment": "#"}}, None),  # the comment is not the header
    ("_c0,id2,x,id3\n1,2,3,4\n", {}, None),  # names a file may really have
    ("1,,1\n", {"spark": {"Header": "false"}}, None),  # no header: positional names
])
def test_a_header_spark_would_rename_is_refused(spark, tmp_path, text, options, error):
    path = tmp_path / "a.csv"
    path.write_text(text, encoding="utf-8")
    src = source("csv", "a.csv", source_options=options)
    if error is None:
        assert len(read_spark(spark, src, tmp_path, native_delta=False).collect()) == 1
        return
    with pytest.raises(SourceReadError, match=rf"source 'src-x': file '{path}': {error}"):
        read_spark(spark, src, tmp_path, native_delta=False)


def test_a_file_whose_header_orders_the_columns_otherwise_is_refused_on_spark(spark, tmp_path):
    """Spark's default (enforceSchema) ignores every header but the first and puts another file's
    columns in place by position: 'y' under id, 2 under v. pandas matches them by name."""
    (tmp_path / "a.csv").write_text("id,v\n1,x\n")
    (tmp_path / "b.csv").write_text("v,id\ny,2\n")
    src = source("csv", "*.csv")
    assert read_pandas(src, tmp_path).to_dict("list") == {"id": [1, 2], "v": ["x", "y"]}
    with pytest.raises(Exception, match=r"(?s)b\.csv.*CSV header does not conform to the schema.*Expected: id but "
                                        r"found: v"):
        read_spark(spark, src, tmp_path, native_delta=False).collect()


def test_a_spark_error_in_the_data_is_summarized_and_not_retried(spark, tmp_path):
    """The write computes the frame, so a bad file fails there: the message is Spark's, without the
    Java stack trace, and a TableWriteError (a retry would meet the same file)."""
    from odibi_dagster.engines.arrow_tables import TableWriteError
    from odibi_dagster.engines.base import WriteSpec
    from odibi_dagster.engines.spark_engine import SparkBackend
    from odibi_dagster.engines.spark_session import SparkSettings
    from odibi_dagster.engines.storage import TableLocation

    (tmp_path / "a.csv").write_text("id,v\n1,x\n")
    (tmp_path / "b.csv").write_text("v,id\ny,2\n")
    frame = read_spark(spark, source("csv", "*.csv"), tmp_path, native_delta=False)
    backend = SparkBackend(SparkSettings(), delta="auto")  # the suite's shared session
    location = TableLocation(tmp_path / "out", "qat", "p", "Bronze", "bronze.x")
    with pytest.raises(TableWriteError) as info:
        backend.write_table(location, frame, WriteSpec(mode="overwrite", format="delta"))
    message = str(info.value)
    assert "\tat " not in message and len(message) < 1000
    assert f"Encountered error while reading file file://{tmp_path}/b.csv" in message
    assert "CSV header does not conform to the schema. Header: v, id Schema: id, v Expected: id but found: v" in message
    assert message.endswith("the stored table is unchanged")


@pytest.mark.parametrize("name, data, options", [
    ("latin1.csv", "a,b\nété,1\n".encode("latin-1"), {"encoding": "latin-1"}),  # Spark calls it iso-8859-1
    ("cp1252.csv", "a,b\n€ été,1\n".encode("cp1252"), {"encoding": "cp1252"}),  # one of the JDK's
    ("utf16.csv", "a,b\nété,1\n".encode("utf-16"), {"encoding": "utf-16"}),  # garbled, plus a row, line by line
    ("quoted.csv", b'a,b\n"x\ny",1\n', {}),  # a quoted field over two lines: two rows, read line by line
    ("doubled.csv", b'a,b\n"say ""hi""",1\n', {}),  # RFC 4180: Spark kept the outer and doubled quotes
])
def test_encodings_and_multiline_csv_read_on_spark_as_on_pandas(spark, tmp_path, name, data, options):
    (tmp_path / name).write_bytes(data)
    src = source("csv", name, source_options=options)
    rows = [tuple(row) for row in read_spark(spark, src, tmp_path, native_delta=False).collect()]
    assert rows == [tuple(record) for record in read_pandas(src, tmp_path).itertuples(index=False)]
    assert len(rows) == 1 and rows[0][1] == 1


def test_a_secret_in_a_summarized_spark_error_is_masked(spark, tmp_path):
    """Spark's message names the file; here the file's name is a value read from ${NAME}."""
    from odibi_dagster.config.connections import remember_secret
    from odibi_dagster.engines.arrow_tables import TableWriteError
    from odibi_dagster.engines.base import WriteSpec
    from odibi_dagster.engines.spark_engine import SparkBackend
    from odibi_dagster.engines.spark_session import SparkSettings
    from odibi_dagster.engines.storage import TableLocation

    remember_secret("Topsecret9x")
    (tmp_path / "Topsecret9x.csv").write_text("a,b\n1,2\n3,4,5\n")  # a ragged row: Spark fails the read
    frame = read_spark(spark, source("csv", "Topsecret9x.csv"), tmp_path, native_delta=False)
    location = TableLocation(tmp_path / "out", "qat", "p", "Bronze", "bronze.x")
    with pytest.raises(TableWriteError) as info:
        SparkBackend(SparkSettings(), delta="auto").write_table(location, frame, WriteSpec(format="delta"))
    assert "Topsecret9x" not in str(info.value) and "***.csv" in str(info.value)
    assert "Malformed CSV record" in str(info.value)


def test_a_long_spark_error_keeps_its_end_where_a_python_worker_names_the_cause():
    from odibi_dagster.engines.spark_errors import summarized

    text = "[PYTHON_EXCEPTION] Traceback (most recent call last): " + "x " * 2000 + "ModuleNotFoundError: No module 'y'"
    summary = summarized(text)
    assert len(summary) < 1600 and summary.startswith("[PYTHON_EXCEPTION]")
    assert summary.endswith("ModuleNotFoundError: No module 'y'")
