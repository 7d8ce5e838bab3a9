"""Predecessor import path: `from tmt.utils.duplicates import DuplicateStrategy, DuplicatePolicy`."""
from tmt.recorder.duplicates import DuplicatePolicy, DuplicateStrategy

__all__ = ["DuplicatePolicy", "DuplicateStrategy"]
