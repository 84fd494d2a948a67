"""The compatibility API of odibi_de_v2: ``run_project`` and the orchestrator classes."""

from odibi_dagster.orchestration.api import (
    GenericProjectOrchestrator,
    TransformationRunnerFromConfig,
    run_project,
)

__all__ = ["GenericProjectOrchestrator", "TransformationRunnerFromConfig", "run_project"]
