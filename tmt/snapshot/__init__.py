"""Snapshots: ignore rules, the stat cache, tree building, materializing trees, diffs."""
