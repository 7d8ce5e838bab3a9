"""Which run a new run records as its `parent` under the predecessor's AS_SUB_ENTRY policy:
the `parent_id` it names, else the latest earlier run of the same name."""
from __future__ import annotations

from tmt._warn import warn
from tmt.recorder.duplicates import DuplicatePolicy, DuplicateStrategy

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from tmt.repo import Repo


def duplicate_parent(strategy: DuplicateStrategy, repo: Repo, name: str) -> str | None:
    """The parent a new run called `name` records, or None (every policy but AS_SUB_ENTRY)."""
    if strategy.policy is not DuplicatePolicy.AS_SUB_ENTRY:
        return None
    wanted = strategy.parent_id
    if wanted:
        from tmt.records.io import record_path
        from tmt.records.model import is_run_id

        if is_run_id(wanted) and record_path(repo.experiments_dir, wanted).exists():
            return wanted
        warn(f"parent_id {wanted!r} is not a run id in this store; using the latest {name!r} run")
    return latest_run_named(repo, name)


def latest_run_named(repo: Repo, name: str) -> str | None:
    """Id of the latest run called `name`: one query-index lookup; a scan of the records only
    when the index cannot serve (it is a cache)."""
    try:
        from tmt.query import latest_id

        return latest_id(name, repo=repo)
    except Exception:  # noqa: BLE001 - any index failure: fall back to reading the records
        pass
    import json
    from datetime import datetime

    from tmt.errors import TmtError
    from tmt.records.io import read_record, read_record_bytes, record_files

    needle = json.dumps(name, ensure_ascii=False).encode("utf-8")
    best: tuple[datetime, str] | None = None
    for path in record_files(repo.experiments_dir):
        try:  # read as every reader reads a record: never through a link, bounded, validated
            if needle not in read_record_bytes(path):
                continue
            rec = read_record(path)
            if rec.name != name:
                continue
            key = (datetime.fromisoformat(rec.created_at), rec.id)
        except (TmtError, ValueError):  # a damaged record is fsck's business, not the parent's
            continue
        if best is None or key > best:
            best = key
    return best[1] if best else None
