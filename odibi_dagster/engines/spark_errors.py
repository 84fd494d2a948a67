"""Spark's errors, as a data engineer needs to read them: a JVM error reaches Python as the whole
Java stack trace (10-30 KB), where the lines that say what went wrong are a few among hundreds."""

from __future__ import annotations

import re

from odibi_dagster.config.connections import redact_secrets

_FRAME = re.compile(r"\s+at |\s*\.\.\. \d+ more|\s*Suppressed: ")
_NOISE = re.compile(r"(Py4JJavaError: )?An error occurred while calling [\w.$]+\.?|Exception thrown in awaitResult:?")
_JAVA_CLASS = re.compile(r"(^|(?<=: ))(Caused by: )?:?\s*(?:[a-z]\w*\.)+[A-Z]\w*(?:\$\w+)*: ")
_SQLSTATE = re.compile(r"\s*SQLSTATE: \w+")
# causes that a retry would only meet again: the files themselves are wrong
_REPEATS = re.compile(r"CSV header does not conform|MALFORMED_|Malformed (CSV )?record")
_MAX_CHARS = 1500


def spark_error_summary(exc: BaseException) -> str | None:
    """The messages of a JVM error and its causes, without stack frames or Java class names, and
    without the secrets read from ``${NAME}`` (None for an error raised in Python)."""
    if type(exc).__name__ != "Py4JJavaError" and not type(exc).__module__.startswith("pyspark.errors"):
        return None
    return redact_secrets(summarized(str(exc)))


def summarized(text: str) -> str:
    """A message quoting a JVM error, as its messages only: one per error of the chain, joined by
    ``; caused by:``, at most 1,500 characters."""
    messages: list[str] = []
    for line in text.splitlines():
        if _FRAME.match(line):
            continue
        part = _SQLSTATE.sub("", _JAVA_CLASS.sub(r"\1", _NOISE.sub("", line))).strip()
        if not part or part == ":":
            continue
        if line.startswith("Caused by:") or not messages:
            messages.append(part)
        else:
            messages[-1] = f"{messages[-1]} {part}"
    summary = "; caused by: ".join(dict.fromkeys(message.rstrip(" :") for message in messages))  # each once
    # a Python worker's traceback ends with its cause: keep the end of a long one
    return summary if len(summary) <= _MAX_CHARS else f"{summary[:400]} … {summary[-(_MAX_CHARS - 400):]}"


def without_stack_frames(text: str) -> str:
    """``text`` summarized where it quotes a JVM error with its stack trace; as it is otherwise."""
    return summarized(text) if "\tat " in text else text


def would_repeat(summary: str) -> bool:
    """Whether the summarized error is in the data read (a retry meets it again)."""
    return bool(_REPEATS.search(summary))


class SparkJobError(RuntimeError):
    """A Spark job failed; the message is Spark's own, summarized."""
