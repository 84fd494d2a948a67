"""Partitions and incremental loads at run time: the Dagster partitions definition built from the
manifest (``definition.py``), the window a step runs for (``window.py``), and the high-water mark
of an incremental source (``marks.py``). What a window means for rows of either engine is in
``odibi_dagster.engines`` (``arrow_tables`` and ``spark_tables``).
"""
