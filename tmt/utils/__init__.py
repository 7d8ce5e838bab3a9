"""Predecessor import paths (tmt.utils.*), kept so that code written for tmt 0.1 still runs."""
