"""Spark's errors, as a data engineer needs to read them: a JVM error reaches Python as the whole
Java stack trace (10-20 KB), where the lines that say what went wrong are a few among hundreds."""

from __future__ import annotations

import re

_FRAME = re.compile(r"\s+at |\s*\.\.\. \d+ more|\s*Suppressed: |An error occurred while calling ")
_JAVA_CLASS = re.compile(r"^(Caused by: )?:?\s*(?:[a-z]\w*\.)+[A-Z]\w*(?:\$\w+)*: ")
# causes that a retry would only meet again: the files themselves are wrong
_REPEATS = re.compile(r"CSV header does not conform|MALFORMED_|Malformed (CSV )?record")
_MAX_CHARS = 1500
_SQLSTATE = re.compile(r"\s*SQLSTATE: \w+")


def spark_error_summary(exc: BaseException) -> str | None:
    """The messages of a JVM error and its causes, without stack frames or Java class names
    (None for an error raised in Python)."""
    if type(exc).__name__ != "Py4JJavaError" and not type(exc).__module__.startswith("pyspark.errors"):
        return None
    messages: list[str] = []  # one per error in the chain, each once
    for line in str(exc).splitlines():
        if not line.strip() or _FRAME.match(line):
            continue
        text = _SQLSTATE.sub("", _JAVA_CLASS.sub("", line)).strip()
        if line.startswith("Caused by:") or not messages:
            messages.append(text)
        else:
            messages[-1] = f"{messages[-1]} {text}"
    summary = "; caused by: ".join(message for message in dict.fromkeys(messages) if message)
    return summary if len(summary) <= _MAX_CHARS else summary[:_MAX_CHARS] + "…"


def without_stack_frames(text: str) -> str:
    """``text`` without the lines of Java stack frames (an error message that quotes a JVM error)."""
    if "\tat " not in text:
        return text
    return "\n".join(line for line in text.splitlines() if not _FRAME.match(line))


def would_repeat(summary: str) -> bool:
    """Whether the summarized error is in the data read (a retry meets it again)."""
    return bool(_REPEATS.search(summary))


class SparkJobError(RuntimeError):
    """A Spark job failed; the message is Spark's own, summarized (the Java error is its cause)."""
