"""Stores written by the predecessor, ThatMetricTimeline 0.1.8: reading them and importing them.

Imported only by `tmt migrate` (tmt.legacy.migrate) and by the notice a store with a
`tmt_db.json` gets (tmt.legacy.notice); `import tmt` never loads it.
"""
