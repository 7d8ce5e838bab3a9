"""Predecessor import path: `from tmt.exceptions import DuplicatedNameError, EntryNotFound`."""
from tmt.errors import DuplicatedNameError, EntryNotFound

__all__ = ["DuplicatedNameError", "EntryNotFound"]
