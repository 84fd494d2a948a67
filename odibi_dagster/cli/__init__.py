"""The package command: ``python -m odibi_dagster`` / ``odibi-dagster``."""
