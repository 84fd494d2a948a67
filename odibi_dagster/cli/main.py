"""``odibi-dagster init | validate | export | schema | log | status | summary | failed``: create a project, check
it, copy a folder project into SQL tables, print the config's JSON Schemas or reference, and read the
transformation log of the DAGSTER_HOME instance."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from odibi_dagster.config import ConfigError, Project, export_project, load_project_from_environment

if TYPE_CHECKING:
    import dagster as dg  # imported by the commands that use it: `validate` and `schema` start fast


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project-dir", help="project folder (default: ODIBI_PROJECT_DIR, else the demo)")
    parser.add_argument("--config-db", help="SQLAlchemy URL of the config tables (default: ODIBI_CONFIG_DB)")
    parser.add_argument("--project", help="project name in the config tables (default: ODIBI_PROJECT)")
    parser.add_argument("--env", help="environment (default: ODIBI_ENV, else the manifest's default_env)")


def _load(args: argparse.Namespace) -> Project:
    return load_project_from_environment(args.project_dir, args.config_db, args.project, args.env)


def summary(project: Project) -> str:
    per_layer = Counter(project.table_layers.values())
    lines = [(f"project '{project.name}' (env {project.env}) from {project.origin}: {len(project.table_layers)} "
              f"assets from {len(project.sources)} sources and {len(project.transformations)} transformations")]
    lines += [f"  {layer}: {per_layer[layer]} assets" for layer in project.manifest.layer_order]
    return "\n".join(lines)


def cmd_init(args: argparse.Namespace) -> int:
    from odibi_dagster.scaffold import initialize_project

    try:
        made = initialize_project(args.name, args.type, args.dir)
    except (ValueError, FileExistsError) as exc:
        print(f"init: {exc}", file=sys.stderr)
        return 1
    print(f"created project '{made['project_name']}' ({args.type}) in {made['project_path']}:")
    for path in made["created_files"]:
        print(f"  {path}")
    print("next:")
    for step in made["next_steps"]:
        print(f"  {step}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    project = _load(args)
    print(summary(project))
    print("OK")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    project = export_project(args.project_dir, args.config_db)
    print(f"exported project '{project.name}' from {args.project_dir} into the config tables; load it with\n"
          f"  ODIBI_CONFIG_DB='<url>' ODIBI_PROJECT='{project.name}'")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from odibi_dagster.config.reference import markdown_reference, schema_text

    if args.markdown:
        print(markdown_reference(), end="")
    elif args.kind:
        print(schema_text(args.kind), end="")
    else:
        print("schema: name a file kind (manifest, sources, transformations) or give --markdown", file=sys.stderr)
        return 2
    return 0


@contextmanager
def project_instance(args: argparse.Namespace) -> Iterator[dg.DagsterInstance | None]:
    """The DAGSTER_HOME instance for a log command, opened once; None when ``--project`` names a
    project it has no asset of (a typo, or another instance), after saying which it has, on stderr."""
    import dagster as dg

    from odibi_dagster.config.model import slugify

    with dg.DagsterInstance.get() as instance:
        known = sorted({key.path[0] for key in instance.get_asset_keys()}) if args.project else []
        if args.project and slugify(args.project) not in known:
            print(f"{args.command}: project '{args.project}' has no assets in the DAGSTER_HOME instance "
                  f"({os.environ.get('DAGSTER_HOME')}); projects there: {known or 'none'}", file=sys.stderr)
            yield None
        else:
            yield instance


def cmd_log(args: argparse.Namespace) -> int:
    """The transformation log of the DAGSTER_HOME instance, as a table."""
    from odibi_dagster.logging import read_transformation_log

    with project_instance(args) as instance:
        if instance is None:
            return 1
        log = read_transformation_log(args.project, instance, partition_key=args.partition)
    if args.status:
        log = log[log["status"] == args.status.upper()]
    if args.last:
        log = log.tail(args.last)
    columns = ["start_time", "transformation_id", "layer", "engine", "status", "duration_seconds", "rows_out",
               "rows_dropped", "rows_quarantined", "checks_failed", "attempt", "error_message"]
    if log["partition_key"].notna().any():
        columns.insert(2, "partition_key")
    if log.empty:
        print("no transformation runs logged")
        return 0
    # one line per run, every column left-aligned, a message's first 80 characters (`failed` shows it whole)
    shown = log[columns].astype(object).where(log[columns].notna(), "").map(_one_line)
    shown["error_message"] = shown["error_message"].map(lambda text: text if len(text) <= 80 else text[:79] + "…")
    shown["start_time"] = log["start_time"].map(lambda moment: moment.isoformat(sep=" ", timespec="seconds"))
    widths = {column: max(len(column), *(len(value) for value in shown[column])) for column in columns}
    print("  ".join(f"{column:<{widths[column]}}" for column in columns).rstrip())
    for row in shown.itertuples(index=False):
        print("  ".join(f"{value:<{widths[column]}}" for column, value in zip(columns, row)).rstrip())
    return 0


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())


def cmd_status(args: argparse.Namespace) -> int:
    from odibi_dagster.logging.operations import project_status

    with project_instance(args) as instance:
        if instance is None:
            return 1
        status = project_status(args.project, instance, hours=args.hours)
    window = f"last {args.hours} h" if args.hours else "all time"
    print(f"project '{status['project']}' ({window}): {status['total']} transformation runs")
    for name, count in sorted(status["by_status"].items()):
        print(f"  {name}: {count}")
    print(f"  average duration: {status['average_duration_seconds']} s")
    print(f"  data quality: {status['rows_dropped']} rows dropped, {status['rows_quarantined']} rows quarantined, "
          f"{status['runs_with_failed_checks']} runs with failed checks")
    print(f"  last run: {status['last_run_id']} ended {status['last_end_time']}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    import dagster as dg

    from odibi_dagster.logging.operations import run_summary

    with dg.DagsterInstance.get() as instance:
        try:
            print(run_summary(instance, args.run_id))
        except LookupError as exc:
            print(f"summary: {exc.args[0]}", file=sys.stderr)
            return 1
    return 0


def cmd_failed(args: argparse.Namespace) -> int:
    from odibi_dagster.logging.operations import failed_transformations

    with project_instance(args) as instance:
        if instance is None:
            return 1
        failed = failed_transformations(args.project, hours=args.hours, instance=instance)
    if failed.empty:
        print(f"no failed transformations in the last {args.hours} h")
        return 0
    for row in failed.itertuples():  # a block each: a table right-aligns long messages and cuts them
        ended = row.end_time.isoformat(sep=" ", timespec="seconds")
        print(f"{ended}  {row.transformation_id}  (layer {row.layer}, attempt {row.attempt}, run {row.run_id})")
        if isinstance(row.checks_failed, str) and row.checks_failed:
            print(f"    checks failed: {row.checks_failed}")
        for line in str(row.error_message or "").splitlines():
            print(f"    {line}")
    return 0


def positive(kind: type) -> Callable[[str], Any]:
    """An argparse type: a number above zero (``--last 0`` or ``-3`` would silently show all rows,
    or all but some)."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="odibi-dagster", description="Config-driven medallion projects on Dagster")
    commands = parser.add_subparsers(dest="command", required=True)

    from odibi_dagster.scaffold import PROJECT_TYPES

    init = commands.add_parser("init", help="create a new project folder that validates and materializes as is")
    init.add_argument("name", help="the project's name, e.g. 'Energy Efficiency'")
    init.add_argument("--dir", default="projects", help="folder to create <slug>/ in (default: ./projects)")
    init.add_argument("--type", default="custom", choices=list(PROJECT_TYPES),
                      help="layers and entity labels: manufacturing has Silver_1/2 and Gold_1/2 (default: custom)")
    init.set_defaults(run=cmd_init)

    validate = commands.add_parser("validate", help="load and validate a project; exit 1 listing every error")
    _add_source_arguments(validate)
    validate.set_defaults(run=cmd_validate)

    export = commands.add_parser("export", help="write a folder project into the SQL config tables")
    export.add_argument("--project-dir", required=True, help="the folder project to export")
    export.add_argument("--config-db", required=True, help="SQLAlchemy URL of the config database")
    export.set_defaults(run=cmd_export)

    from odibi_dagster.config.reference import SCHEMA_KINDS

    schema = commands.add_parser("schema", help="print the JSON Schema of a config file (for editors), or the "
                                                "configuration reference as markdown")
    schema.add_argument("kind", nargs="?", choices=list(SCHEMA_KINDS))
    schema.add_argument("--markdown", action="store_true", help="the whole reference (docs/configuration.md)")
    schema.set_defaults(run=cmd_schema)

    log = commands.add_parser("log", help="the transformation log of the DAGSTER_HOME instance")
    log.add_argument("--project", help="project name (default: every project)")
    log.add_argument("--last", type=positive(int), help="only the last N runs of transformations")
    log.add_argument("--status", choices=["SUCCESS", "FAILED", "success", "failed"], help="only this status")
    log.add_argument("--partition", help="only runs of this partition key (or range, 'A...B', as run)")
    log.set_defaults(run=cmd_log)

    status = commands.add_parser("status", help="counts by status, average duration, last run of a project")
    status.add_argument("--project", required=True)
    status.add_argument("--hours", type=positive(float), help="only the last N hours (default: all time)")
    status.set_defaults(run=cmd_status)

    summary_cmd = commands.add_parser("summary", help="what a run wrote: each table, its rows and where it is")
    summary_cmd.add_argument("--run-id", help="the run (default: the newest run of the DAGSTER_HOME instance)")
    summary_cmd.set_defaults(run=cmd_summary)

    failed = commands.add_parser("failed", help="failed transformations of a project in the last N hours")
    failed.add_argument("--project", required=True)
    failed.add_argument("--hours", type=positive(float), default=24)
    failed.set_defaults(run=cmd_failed)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except Exception as exc:
        from dagster._core.errors import DagsterHomeNotSetError  # dagster only where a command used it

        home = os.environ.get("DAGSTER_HOME")
        if not isinstance(exc, DagsterHomeNotSetError) and not (home and not os.path.isdir(home)):
            raise
        what = f"is {home}, which is not a folder" if home else "is not set"
        print(f"{args.command}: DAGSTER_HOME {what}; set it to the instance folder your runs used "
              f"(scripts/demo.sh uses .dagster_home)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
