"""A project's own hooks: ``hooks_module`` in the manifest names a module with ``register(hooks)``."""

from __future__ import annotations

from odibi_dagster.config.model import Project
from odibi_dagster.functions.modules import import_project_module
from odibi_dagster.hooks.manager import HookManager


class HookModuleError(ImportError):
    """The manifest's hooks_module cannot be imported or has no usable ``register(hooks)``."""


def load_project_hooks(project: Project, into: HookManager | None = None) -> HookManager:
    """Register the project's hooks (if it names a ``hooks_module``) into ``into`` or a new manager."""
    hooks = into or HookManager()
    name = project.manifest.hooks_module
    if not name:
        return hooks
    try:
        module = import_project_module(name, project.root)
    except Exception as exc:
        raise HookModuleError(f"hooks_module '{name}' of project '{project.name}' cannot be imported: "
                              f"{type(exc).__name__}: {exc}") from exc
    register = getattr(module, "register", None)
    if not callable(register):
        raise HookModuleError(f"hooks_module '{name}' of project '{project.name}' has no register(hooks) function")
    register(hooks)
    return hooks


def merged(*managers: HookManager) -> HookManager:
    """One manager calling every hook of ``managers``, in order."""
    combined = HookManager()
    for manager in managers:
        for event, hooks in manager.list_hooks().items():
            for hook in hooks:
                combined.register(event, hook["callback"], hook["filters"] or None)
    return combined
