"""Store maintenance: gc (delete what nothing needs, safely beside live runs) and fsck."""
from __future__ import annotations

import sys
import types

#: public name -> the submodule defining it, imported on first use (gc does not load fsck)
_NAMES = {
    "gc": "gc", "GcResult": "gc", "GcRefused": "gc", "parse_duration": "gc",
    "fsck": "fsck", "FsckResult": "fsck", "Problem": "fsck",
}

__all__ = ["gc", "GcResult", "GcRefused", "parse_duration", "fsck", "FsckResult", "Problem"]


class _Package(types.ModuleType):
    """`gc` and `fsck` name both submodules and the functions in them. Importing a submodule
    sets its name on the package, so a plain lazy `__getattr__` would hand out the module
    once it is loaded: here these names always mean the functions (as the eager imports
    did). Reach the modules through sys.modules / importlib.import_module."""

    def __getattribute__(self, name: str) -> object:
        where = _NAMES.get(name)
        if where is None:
            return super().__getattribute__(name)
        import importlib

        return getattr(importlib.import_module(f"tmt.maintenance.{where}"), name)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *__all__})


sys.modules[__name__].__class__ = _Package
