"""run_project's live progress: a line per layer with steps done / total and elapsed time."""

import io
import re

from odibi_dagster.orchestration import run_project
from odibi_dagster_tests.conftest import failing_project

LINE = re.compile(r"^(\w+) +\[(\d+)/(\d+)\] (sources|transformations) (done|skipped)")


def progress_lines(text: str) -> list[tuple[str, int, int, str]]:
    found = []
    for line in text.replace("\r", "\n").splitlines():
        line = line.replace("\x1b[2K", "")
        match = LINE.match(line)
        if match:
            found.append((match[1], int(match[2]), int(match[3]), line))
    return found


def test_a_line_per_layer_as_steps_finish(demo_cwd, capsys):
    result = run_project("Energy Efficiency", engine="pandas")
    assert result["status"] == "success"
    lines = progress_lines(capsys.readouterr().out)
    finals = [line for layer, done, total, line in lines if line.endswith("ok")]
    assert [line.split()[0] for line in finals] == ["Bronze", "Silver_1", "Silver_2", "Gold_1", "Gold_2"]
    assert finals[0].startswith("Bronze       [4/4] sources done") and "Silver_1     [2/2] transformations" in finals[1]
    steps = {"Bronze": 4, "Silver_1": 2, "Silver_2": 1, "Gold_1": 1, "Gold_2": 1}  # the demo's rows per layer
    for name, total in steps.items():  # each layer's count goes up to its number of steps, never back
        counts = [(done, of) for layer, done, of, _ in lines if layer == name]
        assert {of for _, of in counts} == {total} and counts[-1][0] == total, (name, counts)
        assert [done for done, _ in counts] == sorted(done for done, _ in counts), (name, counts)
    assert re.search(r"done  \d+\.\d s  ok$", finals[-1])


def test_quiet_prints_nothing(demo_cwd, capsys):
    assert run_project("Energy Efficiency", engine="pandas", quiet=True, target_layers=["Bronze"])["status"] == "success"
    assert progress_lines(capsys.readouterr().out) == []


def test_failures_and_skipped_layers_show(project_writer, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ODIBI_STORAGE_ROOT", str(tmp_path / "storage"))
    run_project("Test Project", project_dir=failing_project(project_writer))
    text = capsys.readouterr().out
    silver = r"^Silver +\[2/2\] transformations done  \d+\.\d s  \(1 failed\)  FAILED$"
    assert re.search(silver, text, re.MULTILINE), text
    assert re.search(r"^Gold +\[0/1\] transformations skipped \(upstream failed\)$", text, re.MULTILINE), text


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


SLOW = """
import time

def slow():
    time.sleep(2.5)
    return pd.DataFrame({"a": [1]})
"""


def test_on_a_terminal_the_line_is_rewritten_while_a_step_runs(project_writer, tmp_path, monkeypatch):
    monkeypatch.setenv("ODIBI_STORAGE_ROOT", str(tmp_path / "storage"))
    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    root = project_writer.write(functions=SLOW, transformations=[
        {"transformation_id": "t-slow", "layer": "Silver", "function": "slow", "outputs": [{"table": "silver.slow"}]}])
    assert run_project("Test Project", project_dir=root)["status"] == "success"
    text = terminal.getvalue()
    silver = [line for layer, _, _, line in progress_lines(text) if layer == "Silver"]
    assert silver[-1].startswith("Silver       [1/1] transformations done") and silver[-1].endswith("ok")
    ticking = [line for line in silver if line.startswith("Silver       [0/1]")]
    assert len(ticking) >= 2, text  # elapsed time refreshed while the slow step ran
    assert "\r\x1b[2K" in text and text.endswith("ok\n")
