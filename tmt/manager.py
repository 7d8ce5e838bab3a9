"""TmtManager: the predecessor's helper for loading runs, kept working on top of tmt.query.

Code written for ThatMetricTimeline 0.1 keeps running:

    manager = TmtManager()
    manager.set_entry_by_id("3f2a")          # any ref: id prefix, name, last, last~2, NAME~1
    for name, path in manager.results_paths(): ...
    for name, obj in manager.load_results(): ...
    for name, value in manager.get_metrics(): ...
    manager.code_snapshot_path()            # a read-only folder with the run's code
    manager.db.get_entries_by_name("lr_")   # substring; also _regex, dates

and it now handles many runs at once (what its author asked for):

    manager = TmtManager.from_runs(tmt.runs(name="sweep"))   # or manager.set_entries([...])
    for run in manager: ...                  # every selected run
    manager.metrics_table()                  # one dict per run (Runs.to_records())
    for run, name, obj in manager.load_all_results(): ...

The single-run methods act on `manager.entry`, the current run: the one set by a
`set_entry_*` call, or the first of the selected runs.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from tmt.errors import EntryNotFound, UnknownRef, UsageError
from tmt.query import Run, Runs, get
from tmt.query.runs import select
from tmt.repo import Repo


class Metric(tuple):
    """(name, value), unpackable as the predecessor's docs show, with `.name` and `.value`."""

    __slots__ = ()

    def __new__(cls, entry_id: str, name: str, value: Any) -> "Metric":
        self = super().__new__(cls, (name, value))
        return self

    @property
    def name(self) -> str:
        return self[0]

    @property
    def value(self) -> Any:
        return self[1]


class _MetricList(list):
    """The predecessor returned a list of Metric objects; this is one, with the run id kept."""

    def __init__(self, entry_id: str, items: Iterable[tuple[str, Any]]) -> None:
        super().__init__(Metric(entry_id, n, v) for n, v in items)
        self.entry_id = entry_id

    def as_dict(self) -> dict[str, Any]:
        return {m[0]: m[1] for m in self}


def _to_timestamp(value: datetime | int | float) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise UsageError(f"expected a datetime or a unix timestamp, not {value!r}")


def _repo_from_config(config: "str | os.PathLike[str] | Repo | None") -> Repo:
    """None: the repository of the working directory. A Repo, a .tmt folder or a project
    folder is used as is; the predecessor's JSON config file means the repository around it."""
    if config is None or isinstance(config, Repo) or Path(config).is_dir():
        return Repo.resolve(config)  # an explicit folder wins over TMT_DIR
    path = Path(config)
    if path.is_file():  # tmt 0.1 config.json, usually .tmt/config.json
        return Repo.resolve(path.parent)
    raise UsageError(f"config {os.fspath(config)!r} is neither a tmt repository nor a config file")


def _legacy_hint(repo: Repo) -> str | None:
    """The notice, as a hint, when runs of tmt 0.1.8 wait for `tmt migrate` (one stat if none)."""
    from tmt.repo import LEGACY_DB

    if not os.path.exists(os.path.join(repo.tmt_dir, LEGACY_DB)):
        return None
    from tmt.legacy.notice import message, pending

    try:
        count = pending(repo.tmt_dir)
    except Exception:  # noqa: BLE001 - an unreadable tmt_db.json: `tmt migrate` says why
        return None
    return message(count) if count else None


class _Db:
    """The predecessor's read-only `manager.db` queries; each returns a list of Runs."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def get_entry_by_id(self, id: str) -> Run | None:
        try:
            return get(id, self.repo)
        except UnknownRef:
            return None

    def get_entry_by_exact_name(self, name: str) -> Run | None:
        """The latest run called `name` (the predecessor returned the first one)."""
        found = select(self.repo, exact_name=name, newest_first=True, limit=1)
        return found[0] if len(found) else None

    def get_entries_by_name(self, name: str) -> list[Run]:
        """Runs whose name contains `name`."""
        return list(select(self.repo, name_contains=name))

    def get_entries_by_name_regex(self, regex: str) -> list[Run]:
        """Runs whose name matches `regex` at its start (`re.match`, as the predecessor)."""
        try:
            pattern = re.compile(regex)
        except re.error as e:
            raise UsageError(f"{regex!r} is not a valid regular expression: {e}") from None
        runs = select(self.repo)
        return [r for r in runs if pattern.match(r.name)]

    def get_entries_greater_than_date(self, date: datetime | int | float) -> list[Run]:
        """Runs created strictly after `date` (a datetime or a unix timestamp)."""
        ts = _to_timestamp(date)
        return [r for r in select(self.repo, since=ts) if r.created_at.timestamp() > ts]

    def get_entries_lower_than_date(self, date: datetime | int | float) -> list[Run]:
        """Runs created strictly before `date`."""
        ts = _to_timestamp(date)
        return [r for r in select(self.repo, until=ts) if r.created_at.timestamp() < ts]

    def get_entries_between_dates(self, first: datetime | int | float, second: datetime | int | float) -> list[Run]:
        """Runs created between the two dates, both included."""
        return list(select(self.repo, since=_to_timestamp(first), until=_to_timestamp(second)))


class TmtManager:
    """Load runs, their saved results, metrics and code (see the module docstring).

    :param entry: a Run, a ref (id prefix, name, `last`...), or several of them.
    :param config: where the repository is: None (found from the working directory), a
        Repo, a `.tmt` folder, a project folder, or the predecessor's config.json.
    """

    def __init__(self, entry: "Run | str | Iterable[Run | str] | None" = None, config: Any = None) -> None:
        self.repo = _repo_from_config(config)
        self.db = _Db(self.repo)
        self.entries: list[Run] = []
        self.entry: Run | None = None
        if entry is not None:
            if isinstance(entry, (str, Run)):
                self.set_entry_by_id(entry)
            else:
                self.set_entries(entry)

    # -- choosing runs ----------------------------------------------------------------------

    def set_entry_by_id(self, id: "str | Run") -> Run:
        """Make the run `id` names current: a full id (or the hyphenated uuid of a run tmt
        0.1.8 recorded, once `tmt migrate` imported it), a unique prefix, or any ref."""
        try:
            run = get(id, self.repo)
        except UnknownRef as e:
            raise EntryNotFound(
                f"No entry (experiment) found for id {id}: {e.message}", _legacy_hint(self.repo) or e.hint
            ) from None
        return self._set_one(run)

    def set_entry_by_name(self, name: str) -> Run:
        """Make the latest run called `name` (exactly) current."""
        run = self.db.get_entry_by_exact_name(name)
        if run is None:
            raise EntryNotFound(
                f"No entry (experiment) found for name {name}", _legacy_hint(self.repo) or "list runs with `tmt ls`"
            )
        return self._set_one(run)

    def set_entries(self, runs: "Runs | Iterable[Run | str]") -> list[Run]:
        """Select many runs at once (Runs, Run objects or refs); the first becomes current."""
        chosen: list[Run] = []
        for r in runs:
            if isinstance(r, Run):
                chosen.append(r)
            else:
                try:
                    chosen.append(get(r, self.repo))
                except UnknownRef as e:
                    raise EntryNotFound(f"No entry (experiment) found for {r}: {e.message}", e.hint) from None
        self.entries = chosen
        self.entry = chosen[0] if chosen else None
        return chosen

    @classmethod
    def from_runs(cls, runs: "Runs | Iterable[Run | str]", config: Any = None) -> "TmtManager":
        """A manager over many runs, e.g. TmtManager.from_runs(tmt.runs(name="sweep"))."""
        repo = runs.repo if isinstance(runs, Runs) and config is None else config
        manager = cls(config=repo)
        manager.set_entries(runs)
        return manager

    def _set_one(self, run: Run) -> Run:
        self.entry = run
        self.entries = [run]
        return run

    def __iter__(self) -> Iterator[Run]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    # -- the current run ---------------------------------------------------------------------

    def _current(self) -> Run:
        if self.entry is None:
            raise UsageError(
                "this TmtManager has no run selected",
                "call set_entry_by_id(ref), set_entry_by_name(name) or set_entries(runs) first",
            )
        return self.entry

    def _with_subruns(self, run: Run) -> list[Run]:
        # The predecessor included the results of sub-entries (duplicate policy AS_SUB_ENTRY).
        return [run, *select(self.repo, parent=run.id)]

    def results_paths(self) -> Iterator[tuple[str, str]]:
        """(name, path) of every object the current run (and its sub-runs) saved."""
        for run in self._with_subruns(self._current()):
            for name, artifact in run.artifacts.items():
                yield name, str(artifact.path)

    def load_results(self) -> Iterator[tuple[str, Any]]:
        """(name, object) of every object the current run (and its sub-runs) saved.

        Unpickling runs code from whoever wrote the store: load only stores you trust.
        An object that cannot be loaded is given as its path, with a warning.
        """
        import pickle

        from tmt._warn import warn

        for run in self._with_subruns(self._current()):
            for name, artifact in run.artifacts.items():
                try:
                    yield name, artifact.load()
                except (pickle.UnpicklingError, UsageError, ValueError, EOFError) as e:
                    warn(f"result {name!r} of run {run.short_id} could not be loaded ({e}); giving its path")
                    yield name, str(artifact.path)

    def get_metrics(self) -> _MetricList:
        """The current run's final metrics, iterable as `for name, value in ...`."""
        run = self._current()
        return _MetricList(run.id, run.metrics.items())

    def code_snapshot_path(self) -> str:
        """A read-only folder holding the current run's code (made once, then reused)."""
        return str(self._current().code_path())

    # -- many runs ---------------------------------------------------------------------------

    @property
    def runs(self) -> Runs:
        """The selected runs as a Runs collection (to_pandas, best, sort...)."""
        if not self.entries:
            return Runs(self.repo, [])
        return Runs(self.repo, [r._row for r in self.entries], [r.status for r in self.entries])

    def metrics_table(self) -> list[dict[str, Any]]:
        """One plain dict per selected run (id, name, status, times, params.*, metrics.*)."""
        return self.runs.to_records()

    def all_metrics(self) -> dict[str, dict[str, Any]]:
        """{run id: {metric: value}} for every selected run."""
        return {r.id: dict(r.metrics) for r in self.entries}

    def load_all_results(self) -> Iterator[tuple[Run, str, Any]]:
        """(run, name, object) for every object saved by every selected run."""
        for run in self.entries:
            for name, artifact in run.artifacts.items():
                yield run, name, artifact.load()
