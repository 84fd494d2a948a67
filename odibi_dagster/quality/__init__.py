"""Data quality: evaluate an asset's ``checks`` on the frame about to be written (or on the stored
table), split off the rows to drop or quarantine, and judge the quality gate.

``measure.py`` holds what both engines share (the verdict of each check from counts and observed
values, the gate, the result metadata); ``pandas_checks.py`` and ``spark_checks.py`` compute the
counts, one per engine.
"""
