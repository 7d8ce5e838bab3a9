"""The one exception tree of tmt: every error a user can see is a TmtError.

Each error carries a message (what is wrong) and an optional hint (what to do); the CLI
prints both and maps the class to an exit code.
"""
from __future__ import annotations

from collections.abc import Sequence


class TmtError(Exception):
    """Root of all tmt errors."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        # A message often quotes a store's strings (names, paths): as the exception a user's
        # program sees, it must not drive the terminal either.
        from tmt.text import printable

        text = f"{self.message}\nhint: {self.hint}" if self.hint else self.message
        return printable(text, keep_newlines=True)


class UsageError(TmtError):
    """The user asked for something malformed (bad ref syntax, bad filter, bad option)."""

    exit_code = 2


class RepositoryNotFound(TmtError):
    """No .tmt/ folder was found where one was needed."""


class StoreError(TmtError):
    """Reading or writing the store failed (disk full, permissions, I/O)."""


class InvalidObjectId(UsageError, ValueError):
    """A string that should be an object id is not 64 lowercase hex characters."""


class ObjectNotFound(StoreError, KeyError):
    def __init__(self, oid: str, hint: str | None = "run `tmt fsck` to check the store") -> None:
        super().__init__(f"object {oid} is missing from the store", hint)
        self.oid = oid

    __str__ = TmtError.__str__


class CorruptObject(StoreError):
    """An object's bytes do not hash to its id, or a tree does not decode."""

    def __init__(self, oid: str, reason: str, hint: str | None = "run `tmt fsck --repair`") -> None:
        super().__init__(f"object {oid} is corrupt: {reason}", hint)
        self.oid = oid
        self.reason = reason


class InvalidTree(StoreError, ValueError):
    """A tree is not valid (bad entry name, unknown kind, bad encoding)."""


class UnsafePath(StoreError):
    """A path is not what tmt may write through: a tree entry that would leave its target
    (traversal, a symlinked parent), or a link or special file where the store keeps its own
    folder or file (tmt.store.nofollow)."""


class TreeTooLarge(InvalidTree):
    """A tree expands past the configured bound on paths or bytes (a "tree bomb": trees that
    name the same subtree many times expand exponentially while the store stays tiny)."""

    over = ""  # which bound, for messages: "more than 10,000,000 paths (max_tree_paths)"


class SnapshotError(TmtError):
    """The code root could not be snapshotted."""


class CheckoutError(TmtError):
    """A tree could not be materialized where asked."""


class RecordError(TmtError):
    """An experiment record is missing, unreadable or malformed."""


class CorruptRecord(RecordError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"record {path} is corrupt: {reason}",
            "run `tmt fsck` to list damaged records; the rest of the store is unaffected",
        )
        self.path = path
        self.reason = reason


class RefError(UsageError, LookupError):
    """A run reference could not be resolved."""


class UnknownRef(RefError):
    def __init__(self, ref: str, candidates: Sequence[str] = (), hint: str | None = None) -> None:
        msg = f"no run matches {ref!r}"
        if candidates:
            msg += "; did you mean:\n" + "\n".join(f"  {c}" for c in candidates)
        super().__init__(msg, hint or "list runs with `tmt ls`")
        self.ref = ref
        self.candidates = list(candidates)


class AmbiguousRef(RefError):
    def __init__(self, ref: str, candidates: Sequence[str]) -> None:
        lines = "\n".join(f"  {c}" for c in candidates)
        super().__init__(
            f"{ref!r} matches {len(candidates)} runs:\n{lines}",
            "use a longer id prefix",
        )
        self.ref = ref
        self.candidates = list(candidates)


class RecordingError(TmtError):
    """Misuse of the recording API (log/save outside a run, bad metric values)."""


class NoActiveRun(RecordingError):
    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} was called outside a run",
            "call it inside a function decorated with @tmt.recorder(...) "
            "or inside `with tmt.start_run(...):`",
        )


class MetricTypeError(RecordingError, TypeError):
    """A metric value is not a number."""


class DuplicatedNameError(RecordingError):
    """Predecessor compatibility: a name or artifact already exists and duplicates are refused."""


class EntryNotFound(RefError):
    """Predecessor compatibility: TmtManager could not find an entry."""


class RunStillRecording(TmtError):
    """A run to delete is still recording: its recorder would write the record again."""


class LockedError(TmtError):
    """Another process holds a lock (e.g. another gc is running)."""


class CheckoutInProgress(LockedError):
    """An in-place checkout holds the code root (a run or a second checkout waited for it)."""


class CheckoutInterrupted(CheckoutError):
    """Ctrl-C or SIGTERM stopped an in-place checkout half-way; the hint names the backup."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 130) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code


class MissingDependency(TmtError):
    """An optional dependency (an extra) is needed for this call."""


class CommandError(TmtError):
    """`tmt run`'s command could not be started: not found (exit 127, as shells say) or not
    executable (126)."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 127) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code


class RemoteError(TmtError):
    """A remote (tmt remote, push, pull, clone) is unknown, unreachable, refused us or holds
    something tmt cannot read."""
