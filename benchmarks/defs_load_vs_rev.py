"""Definitions load time of this checkout against an earlier revision, side by side.

    .venv/bin/python benchmarks/defs_load_vs_rev.py REV [--transformations 1000] [--rounds 5]

Checks REV out into a temporary git worktree, then alternates fresh-process loads of the same
generated project (``transformations`` rows + 100 sources) with each checkout's ``odibi_dagster``
and prints the medians and their ratio (this checkout / REV) as the last line (JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import REPO, defs_load_seconds, log  # run.py is a sibling script, not a package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the git revision to compare with, e.g. main~3")
    parser.add_argument("--transformations", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="odibi_defs_") as tmp:
        work, other = Path(tmp), Path(tmp) / "checkout"
        subprocess.run(["git", "worktree", "add", "--detach", str(other), args.rev], cwd=REPO, check=True,
                       capture_output=True)
        try:
            ours, theirs = [], []
            for _ in range(args.rounds):  # alternate: the machine's noise falls on both sides alike
                ours.append(defs_load_seconds(work / "ours", args.transformations, 100, REPO, repeats=1))
                theirs.append(defs_load_seconds(work / "theirs", args.transformations, 100, other, repeats=1))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=REPO, check=True)
    mine, before = statistics.median(ours), statistics.median(theirs)
    log(f"{args.transformations} transformations: this checkout {mine:.3f} s, {args.rev} {before:.3f} s")
    print(json.dumps({"defs_load_s": round(mine, 3), "defs_load_s_rev": round(before, 3),
                      "ratio": round(mine / before, 3)}))


if __name__ == "__main__":
    main()
