"""What both engines share: from measured counts and observed values to each check's verdict.

An engine measures a frame (``Measured``: rows, failing rows per row-level check, the newest
value per freshness check, the logical type of each column); ``judge`` turns that into one
``CheckResult`` per check and the gate's verdict, with the same rules on both engines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from odibi_dagster.config.checks import CheckConfig, QualityGate, parse_duration

SAMPLE_ROWS = 5
QUARANTINE_COLUMNS = ("_failed_checks", "_quarantined_at", "_run_id")


class QualityError(Exception):
    """Checks that cannot run (a column the data lacks, an expression the engine refuses)."""


@dataclass
class Measured:
    """What an engine measured on one frame."""

    total_rows: int
    failed: dict[str, int]  # row-level check name -> failing rows
    passing_all: int  # rows passing every row-level check
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # up to 5 failing rows per check
    newest: dict[str, datetime | date | None] = field(default_factory=dict)  # freshness check -> newest value
    column_types: dict[str, str] = field(default_factory=dict)  # column -> logical type


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict on one frame."""

    check: CheckConfig
    passed: bool
    total_rows: int
    failed_rows: int | None = None  # row-level checks only
    observed: str | None = None  # table-level checks only
    sample: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.check.check_name

    @property
    def severity(self) -> str:
        return self.check.severity

    def metadata(self) -> dict[str, Any]:
        """The asset check result's metadata (the names the README documents)."""
        out: dict[str, Any] = {"total_rows": self.total_rows, "on_fail": self.check.on_fail}
        if self.failed_rows is not None:
            out["failed_rows"] = self.failed_rows
            out["pass_rate"] = pass_rate(self.total_rows - self.failed_rows, self.total_rows)
            if self.sample:
                out["sample"] = markdown_table(self.sample)
        if self.observed is not None:
            out["observed"] = self.observed
        return out


def pass_rate(passing: int, total: int) -> float:
    return 1.0 if total == 0 else round(passing / total, 6)


def require_columns(checks: Iterable[CheckConfig], columns: Sequence[str], where: str) -> None:
    """Refuse, before anything is written, a check naming a column the data lacks, a frame with
    two columns of one name, and (for expressions, whose SQL names ignore case) of one name but
    for case."""
    checks = list(checks)
    repeated = sorted({column for column in columns if list(columns).count(column) > 1})
    if repeated:
        raise QualityError(f"{where}: the data has column(s) {repeated} more than once; checks cannot tell them "
                           f"apart (nothing was written)")
    folded = sorted({column for column in columns if [c.lower() for c in columns].count(column.lower()) > 1})
    if folded and any(check.type == "expression" for check in checks):
        raise QualityError(f"{where}: columns {folded} differ only in letter case, which SQL expressions do not "
                           f"tell apart: rename them (nothing was written)")
    have = set(columns)
    for check in checks:
        missing = [column for column in check.checked_columns if column not in have]
        if missing:
            raise QualityError(f"{where}: check '{check.check_name}' names column(s) {missing} that the data lacks "
                               f"(columns: {list(columns)}); nothing was written")
    clash = sorted(have & set(QUARANTINE_COLUMNS))
    if clash and any(check.on_fail == "quarantine" for check in checks):
        raise QualityError(f"{where}: the data has column(s) {clash}, which its quarantine table adds itself; "
                           f"rename them (nothing was written)")


def judge(checks: Sequence[CheckConfig], gate: QualityGate | None, measured: Measured, now: datetime,
          where: str) -> tuple[list[CheckResult], str | None]:
    """Each check's verdict (``drop``/``quarantine`` checks pass when no row failed), and why
    nothing may be written (a failed ``fail`` check or gate), if so."""
    results = _verdicts(checks, measured, now)
    return results, blocking_error(results, gate_failure(gate, measured, where), where)


def _verdicts(checks: Sequence[CheckConfig], measured: Measured, now: datetime) -> list[CheckResult]:
    results = []
    for check in checks:
        name = check.check_name
        if check.is_row_level:
            failed = measured.failed[name]
            results.append(CheckResult(check, failed == 0, measured.total_rows, failed_rows=failed,
                                       sample=measured.samples.get(name, [])))
        else:
            passed, observed = _table_verdict(check, measured, now)
            results.append(CheckResult(check, passed, measured.total_rows, observed=observed))
    return results


def _table_verdict(check: CheckConfig, measured: Measured, now: datetime) -> tuple[bool, str]:
    if check.type == "row_count":
        rows = measured.total_rows
        return (check.min is None or rows >= check.min) and (check.max is None or rows <= check.max), str(rows)
    if check.type == "freshness":
        newest = as_utc(measured.newest.get(check.check_name))
        if newest is None:
            return False, "no value"
        age = now - newest
        return age <= parse_duration(check.max_age or ""), f"{newest.isoformat()} ({_hours(age.total_seconds())} old)"
    # schema
    expected = {column: str(kind).lower() for column, kind in dict(check.columns or {}).items()}
    actual = measured.column_types
    wrong = [f"{column}: {actual.get(column, 'missing')} (expected {kind})" for column, kind in expected.items()
             if actual.get(column) != kind]
    if check.strict:
        wrong += [f"{column}: not listed" for column in actual if column not in expected]
    observed = ", ".join(f"{column}: {kind}" for column, kind in actual.items())
    return not wrong, observed if not wrong else "; ".join(wrong)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f}h"


def as_utc(value: datetime | date | None) -> datetime | None:
    """A newest value as an aware UTC datetime: a naive time or a date is read as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def gate_failure(gate: QualityGate | None, measured: Measured, where: str) -> str | None:
    """The gate's error when the share of rows passing every row-level check is below it."""
    if gate is None:
        return None
    if measured.passing_all >= gate.min_pass_rate * measured.total_rows:  # exact: no rounding before comparing
        return None
    rate = pass_rate(measured.passing_all, measured.total_rows)
    return (f"{where}: quality gate failed: {rate:.2%} of {measured.total_rows} rows pass every row-level check, "
            f"below min_pass_rate {gate.min_pass_rate:.2%}; nothing was written")


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Up to 5 failing rows as a markdown table (values shortened to 80 characters)."""
    rows = list(rows)[:SAMPLE_ROWS]
    if not rows:
        return ""
    columns = list(rows[0])

    def cell(value: Any) -> str:
        text = "null" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= 80 else text[:77] + "..."

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Evaluated:
    """The checks' outcome on one frame: verdicts, the rows to write and the rows to quarantine."""

    results: list[CheckResult]
    frame: Any  # the rows to write (drop and quarantine rows removed)
    quarantine: Any | None  # the rows to append to the quarantine table; None when there are none
    rows_dropped: int
    rows_quarantined: int
    blocked: str | None  # why nothing may be written: a failed `fail` check or the gate
    release: Callable[[], None] = lambda: None  # frees what evaluation kept (Spark: the persisted frame)

    @property
    def failed(self) -> list[CheckResult]:
        return [result for result in self.results if not result.passed]


def blocking_error(results: Sequence[CheckResult], gate: str | None, where: str) -> str | None:
    """The step's error when a ``fail`` check failed or the gate did."""
    failed = [f"'{r.name}'" + (f" ({r.failed_rows} of {r.total_rows} rows)" if r.failed_rows is not None
                               else f" (observed {r.observed})")
              for r in results if not r.passed and r.check.on_fail == "fail"]
    problems = ([f"{where}: check(s) {', '.join(failed)} failed; nothing was written"] if failed else []) + (
        [gate] if gate else [])
    return "; ".join(problems) or None


def require_comparable(check: CheckConfig, kind: str, where: str) -> None:
    """``accepted_values`` compares like with like on both engines: text with text, numbers with
    numbers, true/false with true/false (Spark would cast, pandas would not)."""
    wanted = {"string": (str,), "integer": (int, float), "double": (int, float), "decimal": (int, float),
              "boolean": (bool,)}.get(kind)
    if wanted is None:
        return
    wrong = [value for value in check.values or [] if value is not None and (
        not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted))]
    if wrong:
        raise QualityError(f"{where}: check '{check.check_name}' lists {wrong}, but column '{check.column}' holds "
                           f"{kind} values: give values of that kind (quote numbers meant as text)")
