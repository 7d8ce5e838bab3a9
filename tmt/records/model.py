"""The experiment record: one JSON document per run, the source of truth for all but content.

`encode`/`decode` are explicit so the on-disk keys are a contract (docs/format.md), not an
accident of attribute names. Unknown keys are kept on read and written back untouched, so a
newer tmt's additions survive an older tmt's rewrite.
"""
from __future__ import annotations

import math
import os
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any, NewType

    from tmt.snapshot.build import SnapshotResult
    from tmt.store.ids import ObjectId

from tmt._plain import Plain
from tmt._sys import hostname, pid_alive
from tmt.errors import CorruptRecord

RECORD_FORMAT = 1
if TYPE_CHECKING:
    RunId = NewType("RunId", str)
else:
    def RunId(value: str) -> str:  # what typing.NewType is at run time: the identity
        return value
#: `crashed` is stored only by `tmt run`, for a command killed by SIGKILL or a crash signal;
#: a `running` record whose process is gone is *shown* as crashed (effective_status).
STATUSES = ("running", "completed", "failed", "interrupted", "crashed")
#: The name and tag of the runs an in-place `tmt checkout` records to save the working tree
#: (DESIGN 11): never `last`, `last~N` or `NAME~N`, listed only with --all or --tag.
BACKUP_NAME = "checkout-backup"
BACKUP_TAG = "checkout-backup"


def new_run_id() -> RunId:
    return RunId(os.urandom(16).hex())  # not `secrets`: its import costs ~10 ms


def is_run_id(value: str) -> bool:
    # not a regex: compiling one at import costs every run about a million instructions
    return isinstance(value, str) and len(value) == 32 and not value.strip("0123456789abcdef")


class Record(Plain):
    """One run's record, as `encode` writes it and `decode` reads it (docs/format.md). A
    plain class, not a dataclass: see tmt/_plain.py."""

    __slots__ = (
        "id", "name", "status", "created_at", "finished_at", "duration_s", "description", "tags", "code",
        "params", "metrics", "series", "artifacts", "parent", "env", "error",
        # optional fields (_OPTIONAL): on disk only when set
        "outputs", "series_summary", "extra",
    )

    def __init__(
        self, id: RunId, name: str, status: str = "running", created_at: str = "", finished_at: str | None = None,
        duration_s: float | None = None, description: str = "", tags: list[str] | None = None,
        code: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None, series: dict[str, ObjectId] | None = None,
        artifacts: list[dict[str, Any]] | None = None, parent: str | None = None,
        env: dict[str, Any] | None = None, error: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None, series_summary: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.status = status
        self.created_at = created_at  # ISO 8601 with offset
        self.finished_at = finished_at
        self.duration_s = duration_s
        self.description = description
        self.tags = [] if tags is None else tags
        self.code = code  # {root, tree, files, bytes, git}
        self.params = {} if params is None else params
        self.metrics = {} if metrics is None else metrics
        self.series = {} if series is None else series  # name -> blob id
        self.artifacts = [] if artifacts is None else artifacts  # {name, object, size, format, filename}
        self.parent = parent
        self.env = {} if env is None else env
        self.error = error
        self.outputs = {} if outputs is None else outputs  # returned values that are not metrics
        self.series_summary = {} if series_summary is None else series_summary  # name -> {points, last, ...}
        self.extra = {} if extra is None else extra  # unknown keys, kept verbatim

    @property
    def created(self) -> datetime:
        from datetime import datetime  # not at import: a recorded run never needs it

        return datetime.fromisoformat(self.created_at)

    def object_ids(self) -> list[str]:
        """Every object this record references directly (the code tree is walked by gc)."""
        ids = []
        if self.code and self.code.get("tree"):
            ids.append(self.code["tree"])
        ids.extend(self.series.values())
        ids.extend(a["object"] for a in self.artifacts if a.get("object"))
        return ids


def new_record(
    run_id: RunId, name: str, *, created_at: str, root: str, snap: SnapshotResult, git: dict[str, Any] | None,
    env: dict[str, Any], status: str = "running", finished_at: str | None = None, duration_s: float | None = None,
    description: str = "", tags: list[str] | tuple[str, ...] = (), params: dict[str, Any] | None = None,
    parent: str | None = None,
) -> Record:
    """The record of a new run of the code in `snap` (labelled `root`): one place for what
    the recorder and a checkout's backup write, so their records never drift apart."""
    return Record(
        id=run_id,
        name=name,
        status=status,
        created_at=created_at,
        finished_at=finished_at,
        duration_s=duration_s,
        description=description,
        tags=list(tags),
        code={"root": root, "tree": snap.tree, "files": snap.files, "bytes": snap.bytes, "git": git},
        params=params if params is not None else {},
        parent=parent,
        env=env,
    )


_KEYS = (
    "id", "name", "status", "created_at", "finished_at", "duration_s", "description", "tags",
    "code", "params", "metrics", "series", "artifacts", "parent", "env", "error",
)

#: Fields added after format 1 was fixed, with their JSON type. Each is written only when it
#: is set (not empty), after the keys above, so a record that does not use it has the same
#: bytes as before: adding one is no version bump (docs/format.md, "Adding a record field").
_OPTIONAL: dict[str, type] = {"outputs": dict, "series_summary": dict}


def encode_metric(value: Any) -> Any:
    """JSON has no NaN/inf: they are stored as the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def decode_metric(value: Any) -> Any:
    if isinstance(value, str) and value in _SPECIAL:
        return _SPECIAL[value]
    return value


def encode(record: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"format": RECORD_FORMAT}
    for key in _KEYS:
        out[key] = getattr(record, key)
    out["metrics"] = {k: encode_metric(v) for k, v in record.metrics.items()}
    for key in _OPTIONAL:
        value = getattr(record, key)
        if value:
            out[key] = value
    for k, v in record.extra.items():
        out.setdefault(k, v)
    return out


def decode(data: Any, source: str = "?") -> Record:
    """Validate and build a Record; raise CorruptRecord naming `source` on any defect."""
    if not isinstance(data, dict):
        raise CorruptRecord(source, "not a JSON object")
    fmt = data.get("format")
    if fmt != RECORD_FORMAT:
        raise CorruptRecord(source, f"unknown record format {fmt!r} (this tmt reads {RECORD_FORMAT})")
    rid = data.get("id")
    if not isinstance(rid, str) or not is_run_id(rid):
        raise CorruptRecord(source, f"invalid id {rid!r}")
    if not isinstance(data.get("name"), str):
        raise CorruptRecord(source, "missing or non-string name")
    if data.get("status") not in STATUSES:
        raise CorruptRecord(source, f"invalid status {data.get('status')!r}")
    created = data.get("created_at")
    if not _is_aware_time(created):
        raise CorruptRecord(source, f"invalid created_at {created!r} (ISO 8601 with a UTC offset)")
    finished = data.get("finished_at")
    if finished is not None and not _is_aware_time(finished):
        raise CorruptRecord(source, f"invalid finished_at {finished!r} (ISO 8601 with a UTC offset)")
    checks = {
        "tags": list, "params": dict, "metrics": dict, "series": dict, "artifacts": list, "env": dict,
        **_OPTIONAL,
    }
    for key, typ in checks.items():
        if key in data and not isinstance(data[key], typ):
            raise CorruptRecord(source, f"{key} must be a JSON {typ.__name__}")
    for key in ("code", "error"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise CorruptRecord(source, f"{key} must be an object or null")
    if not all(isinstance(t, str) for t in data.get("tags", ())):
        raise CorruptRecord(source, "tags must be strings")
    if not isinstance(data.get("description", ""), str):
        raise CorruptRecord(source, "description must be a string")
    if data.get("parent") is not None and not isinstance(data["parent"], str):
        raise CorruptRecord(source, "parent must be a run id or null")
    duration = data.get("duration_s")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))):
        raise CorruptRecord(source, "duration_s must be a number or null")
    if data.get("code") is not None and data["code"].get("git") is not None and not isinstance(data["code"]["git"], dict):
        raise CorruptRecord(source, "code.git must be an object or null")
    if not all(isinstance(v, str) for v in data.get("series", {}).values()):
        raise CorruptRecord(source, "series must map names to object ids")
    for a in data.get("artifacts", []):
        if not isinstance(a, dict) or not isinstance(a.get("name"), str):
            raise CorruptRecord(source, "malformed artifact entry")
        size = a.get("size")
        if (
            any(a.get(k) is not None and not isinstance(a[k], str) for k in ("object", "format", "filename"))
            or (size is not None and (isinstance(size, bool) or not isinstance(size, int)))
        ):
            raise CorruptRecord(source, f"malformed artifact entry {a['name']!r}")
    kwargs = {k: data[k] for k in (*_KEYS, *_OPTIONAL) if k in data}
    kwargs["metrics"] = {k: decode_metric(v) for k, v in data.get("metrics", {}).items()}
    extra = {k: v for k, v in data.items() if k not in _KEYS and k not in _OPTIONAL and k != "format"}
    return Record(**kwargs, extra=extra)


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys: {"opt": {"lr": 0.1}} -> {"opt.lr": 0.1} (how show, export,
    diff print params, and how `where`/sort name them: params.opt.lr)."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def param_value(params: dict[str, Any], key: str) -> Any:
    """The param `key` names, top-level or dotted into nested dicts (None when absent)."""
    if key in params:
        return params[key]
    if "." not in key:
        return None
    return flatten(params).get(key)


def code_tree(record: Record, *, required: bool = True) -> str | None:
    """The record's code tree id, validated: never a path or junk to follow.

    No code snapshot: RecordError when `required`, else None. A tree that is not an object
    id (a hand-edited or foreign record): RecordError naming the run, hinting at fsck.
    """
    from tmt.errors import RecordError
    from tmt.store.ids import _OID_RE

    code = record.code or {}
    tree = code.get("tree")
    if tree is None or tree == "":
        if required:
            raise RecordError(f"run {record.id[:8]} ({record.name}) has no code snapshot")
        return None
    if not (isinstance(tree, str) and _OID_RE.match(tree)):
        raise RecordError(
            f"run {record.id[:8]} ({record.name}) is corrupt: its code tree {str(tree)[:80]!r} is not an object id",
            "run `tmt fsck` to list damaged records",
        )
    return tree


def _is_aware_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    from datetime import datetime

    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def effective_status(record: Record, host: str | None = None) -> str:
    """The status to show: a `running` record whose process is gone is `crashed`.

    Only decidable on the host that ran it; elsewhere a running record stays `running`.
    """
    if record.status != "running":
        return record.status
    env = record.env or {}
    if env.get("host") != (host or hostname()):
        return "running"
    return "running" if pid_alive(env.get("pid")) else "crashed"
