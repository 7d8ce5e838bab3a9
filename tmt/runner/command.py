"""`tmt run -- CMD`: record any command without changing it (docs/run.md).

The `tmt run` process owns the run; in order, it
1. snapshots the code root and writes the `running` record (params read from the command
   line), exactly as a decorated run starts;
2. creates the run's journal and its channel (tmt/recorder/attach.py), then starts the
   command with TMT_RUN_ID, TMT_DIR and the argparse/click bootstrap on PYTHONPATH;
3. copies the command's output to its own stdout/stderr, keeps its head and tail, and reads
   metric lines from it; every ~0.1 s it appends the step points read since to the journal
   (so a crash of tmt itself keeps them, as a decorated run's would), reads the channel,
   and rewrites the running record when an attached process saved an object;
4. once the command has exited: closes the channel under its exclusive lock, reads metrics
   files, stores the output as the artifact `output`, and writes the final record with the
   command's fate (process.fate); then exits with the command's status.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
TYPE_CHECKING = False  # typing costs milliseconds on every `tmt run`
if TYPE_CHECKING:
    from typing import Any

from tmt._warn import warn
from tmt.errors import CommandError
from tmt.recorder.run import LiveRun
from tmt.recorder.values import split_final, to_params
from tmt.runner import OUTPUT_ARTIFACT, metrics_files
from tmt.runner import argv as argvmod
from tmt.runner.output import Capture
from tmt.runner.process import Fate, Forwarder, fate, pump, start, stdout_is_terminal
from tmt.runner.scalars import Scanner

BOOTSTRAP_DIR = Path(__file__).resolve().parent / "bootstrap"
POLL_S = 0.1  # how often the channel is read (and parsed points journaled) while the command runs
FRAME_POINTS = 1000  # points per journal frame (a frame is bounded: records/series.py MAX_FRAME)
#: Longest traceback taken from the output of a failed Python command.
MAX_TRACEBACK = 20_000
_PARSERS = ("argparse", "click")


class RunSpec:
    """What `tmt run` (or `tmt rerun`) was asked to record. (Plain classes here: a dataclass
    costs a compile at import, on every `tmt run`.)"""

    def __init__(
        self,
        argv: list[str],
        *,
        name: str | None = None,
        tags: list[str] | None = None,
        params: dict[str, Any] | None = None,
        scalars: bool = True,
        metrics_files: list[str] | None = None,
        parent: str | None = None,
        overrides: dict[str, dict[str, Any]] | None = None,
        repo: Any = None,
        pty: bool | None = None,
        on_started: Any = None,
        program: str | None = None,
    ) -> None:
        self.argv = argv
        self.name = name
        self.tags = tags or []
        self.params = params or {}  # --param K=V
        self.scalars = scalars  # --no-scalars turns output-line metrics off
        self.metrics_files = metrics_files or []  # --metrics-file; [] = metrics.json if it appears
        self.parent = parent
        #: `tmt rerun --set` values the command line cannot carry: {name: {"raw": str, "value": any}}
        self.overrides = overrides or {}
        self.repo = repo
        self.pty = pty  # None: a pseudo-terminal when tmt's stdout is a terminal
        self.on_started = on_started  # callable(LiveRun) once the running record exists
        self.program = program  # the file to run for argv[0] (a rerun: the one REF ran), else found on PATH


class RunResult:
    """A recorded command: its run, how it ended, what tmt exits with."""

    def __init__(self, run_id: str, name: str, status: str, exit_code: int, metrics: dict[str, Any],
                 duration_s: float | None, unapplied: list[str], output_ended_with_newline: bool) -> None:
        self.run_id = run_id
        self.name = name
        self.status = status
        self.exit_code = exit_code
        self.metrics = metrics
        self.duration_s = duration_s
        self.unapplied = unapplied  # override names nothing in the command took
        self.output_ended_with_newline = output_ended_with_newline


def resolve_program(program: str, cwd: str | None = None) -> str:
    """The executable `program` names, as the command's exec will find it; CommandError
    (127 not found, 126 not executable) before anything is recorded."""
    if os.sep in program:
        path = os.path.join(cwd or os.getcwd(), program)
        if not os.path.exists(path):
            raise CommandError(f"command not found: {program}", "check the path")
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            hint = f"make it executable (chmod +x {program}), or name its interpreter: tmt run -- python {program}"
            raise CommandError(f"permission denied: {program}", hint, exit_code=126)
        return path
    found = _which(program)
    if found is None:
        raise CommandError(f"command not found: {program}", "check the spelling, or that it is on your PATH")
    return found


def _which(program: str) -> str | None:
    """shutil.which without importing shutil (it loads bz2 and lzma)."""
    for folder in os.get_exec_path():
        path = os.path.join(folder, program)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _child_env(run_id: str, tmt_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TMT_RUN_ID"] = run_id
    env["TMT_DIR"] = os.fspath(tmt_dir)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.fspath(BOOTSTRAP_DIR) + (os.pathsep + old if old else "")
    return env


class _Recording:
    """The state of one recorded command between its start and its final record."""

    def __init__(self, spec: RunSpec, run: LiveRun, cwd: Path) -> None:
        from tmt.recorder.attach import Channel

        self.spec = spec
        self.run = run
        self.repo = run.repo
        self.cwd = cwd
        self.capture = Capture()
        self.metrics_out: dict[str, Any] = {}  # last value of each name in the output
        self.series_out: dict[str, tuple[list, list, list]] = {}
        self._pending: list[tuple[str, int, float]] = []  # points not yet in the journal
        self._own_frames: set[tuple] = set()
        self.argv_params, self.argv_options = argvmod.params_from_argv(spec.argv)
        self.parsed: dict[str, Any] = {}  # what argparse/click parsed
        self.api_params: dict[str, Any] = {}  # from attached runs' params (decorated functions)
        self.api_metrics: dict[str, Any] = {}
        self.api_outputs: dict[str, Any] = {}  # returned values that are not numbers
        self.api_errors: list[dict[str, Any]] = []
        self.packages: dict[str, str] | None = None  # what the command's own Python imported
        self.applied: set[str] = set()
        self.artifacts: list[dict[str, Any]] = []
        self._next_poll = 0.0
        self.command_pid: int | None = None  # set once the command has started
        scan = self._on_line if spec.scalars else None
        self.scanners = {name: Scanner(scan) for name in ("stdout", "stderr")} if scan else {}
        self.files = spec.metrics_files or [metrics_files.DEFAULT]
        self.file_keys = {f: metrics_files.stat_key(self.cwd / f) for f in self.files}
        run._journal.create()
        self.channel = Channel(self.repo.tmt_dir, run.id, {"name": run.name, "set": spec.overrides})

    # -- while the command runs ------------------------------------------------------------------

    def on_output(self, stream: str, data: bytes) -> None:
        self.capture.feed(data)
        scanner = self.scanners.get(stream)
        if scanner is not None:
            scanner.feed(data)

    def _on_line(self, step: int | None, values: dict[str, Any]) -> None:
        self.metrics_out.update(values)
        if step is None:
            return
        t = time.time()
        series, pending = self.series_out, self._pending
        for k, v in values.items():
            v = float(v)
            got = series.get(k)
            if got is None:
                got = series[k] = ([], [], [])
            got[0].append(step)
            got[1].append(v)
            got[2].append(t)
            pending.append((k, step, v))

    def _flush_points(self) -> None:
        """Append the points read since the last flush to the journal, in frames of at most
        FRAME_POINTS: a crash of tmt itself keeps all but the last ~POLL_S of them (the
        final series come from memory, with each point's own time)."""
        pending, self._pending = self._pending, []
        for i in range(0, len(pending), FRAME_POINTS):
            points = pending[i:i + FRAME_POINTS]
            t = time.time()
            self.run._journal.append(t, points)
            self._own_frames.add(_frame_key(t, points))

    def tick(self) -> None:
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + POLL_S
        if self._pending:
            self._flush_points()
        self._handle(self.channel.poll(), publish_running=True)

    def _handle(self, events: list[dict[str, Any]], *, publish_running: bool) -> None:
        changed = False
        for ev in events:
            kind = ev.get("e")
            if kind == "artifact":
                entry = _artifact(ev.get("artifact"), self.repo)
                if entry is not None:
                    self.artifacts.append(entry)
                    changed = True
            elif kind == "params" and isinstance(ev.get("values"), dict):
                target = self.parsed if ev.get("source") in _PARSERS else self.api_params
                target.update(ev["values"])
                self.applied.update(k for k in ev.get("applied") or () if isinstance(k, str))
                changed = True
            elif kind == "python" and ev.get("pid") == self.command_pid:  # the command's own Python
                for k in ("python", "implementation"):
                    if isinstance(ev.get(k), str):
                        self.run.record.env[k] = ev[k]
                changed = True
            elif kind == "end":
                self._ended(ev)
        if changed and publish_running:
            self._publish_running()

    def _ended(self, ev: dict[str, Any]) -> None:
        """An attached run's end: its params, metrics, outputs, error and packages."""
        from tmt.records.model import decode_metric

        if isinstance(ev.get("params"), dict):
            self.api_params.update(ev["params"])
        if isinstance(ev.get("metrics"), dict):
            self.api_metrics.update({k: decode_metric(v) for k, v in ev["metrics"].items()})
        if isinstance(ev.get("outputs"), dict):
            self.api_outputs.update(ev["outputs"])
        if isinstance(ev.get("error"), dict):
            self.api_errors.append(ev["error"])
        packages = ev.get("packages")
        if isinstance(packages, dict) and ev.get("pid") == self.command_pid:
            self.packages = {str(k): str(v) for k, v in packages.items()}

    def params(self) -> dict[str, Any]:
        """argv < --param < what argparse/click parsed < attached runs' params. Once a
        parser reported, the `--options` read from argv give way to it (it knows their
        real names and types); `name=value` overrides stay."""
        argv = self.argv_params
        if self.parsed:
            argv = {k: v for k, v in argv.items() if k not in self.argv_options}
        return {**argv, **self.spec.params, **self.parsed, **self.api_params}

    def _publish_running(self) -> None:
        from tmt.recorder.publish import publish

        rec = self.run.record
        rec.params = to_params(self.params())
        rec.artifacts = _named(self.artifacts)
        try:
            publish(self.repo.experiments_dir, self.repo.tmp_dir, rec, final=False)
        except Exception as e:  # noqa: BLE001 - the command goes on; the final write will retry
            warn(f"could not update the record of run {self.run.id[:8]}: {getattr(e, 'message', e)}")

    # -- once it has exited ------------------------------------------------------------------------

    def finish(self, f: Fate) -> None:
        self.run._live = False
        try:
            for scanner in self.scanners.values():
                scanner.close()
            self._flush_points()
            self._handle(self.channel.finish(), publish_running=False)
            self._finish(f)
        finally:
            self.channel.release()
            self.run._release()

    def _finish(self, f: Fate) -> None:
        run = self.run
        logged = self._logged_series()
        file_metrics: dict[str, Any] = {}
        file_series: dict[str, tuple[list, list, list]] = {}
        for name in self.files:
            got = self._read_metrics_file(name)
            if got is None:
                continue
            file_metrics.update(got.metrics)
            now = time.time()
            for step, values in got.points:
                for k, v in values.items():
                    steps, vals, times = file_series.setdefault(k, ([], [], []))
                    steps.append(step)
                    vals.append(float(v))
                    times.append(now)
        # a series from the output < the same from a metrics file < what the command logged
        series = {**self.series_out, **file_series, **logged}
        metrics, outputs = split_final({**self.metrics_out, **file_metrics, **self.api_metrics})
        outputs.update(self.api_outputs)
        run.params = self.params()
        run._series = series
        error = f.error
        if error is not None:
            error = dict(error)
            traceback = next((e.get("traceback") for e in reversed(self.api_errors) if e.get("traceback")), None)
            error["traceback"] = traceback or _python_traceback(self.capture)
        run.record.artifacts = _named([self._store_output(), *self.artifacts])
        # env.packages: what the command's Python imported, when it used tmt's API (tmt run's
        # own imports say nothing about the command)
        run._finish(f.status, metrics, error, outputs=outputs, strict=False, journal=True, packages=self.packages)

    def _logged_series(self) -> dict[str, tuple[list, list, list]]:
        """The step series attached processes logged: the journal's frames that are not
        this process's own (those came from output lines)."""
        from tmt.records.series import iter_frames, journal_path

        try:
            data = journal_path(self.repo.tmt_dir, self.run.id).read_bytes()
        except OSError:
            data = b""
        logged: dict[str, tuple[list, list, list]] = {}
        for t, points in iter_frames(data):
            if _frame_key(t, points) in self._own_frames:
                continue
            for name, step, value in points:
                steps, vals, times = logged.setdefault(name, ([], [], []))
                steps.append(step)
                vals.append(value)
                times.append(t)
        return logged

    def _read_metrics_file(self, name: str) -> metrics_files.FileMetrics | None:
        path = self.cwd / name
        key = metrics_files.stat_key(path)
        explicit = bool(self.spec.metrics_files)
        if key is None:
            if explicit:
                warn(f"metrics file {name} was not written; no metrics were read from it")
            return None
        if key == self.file_keys.get(name):
            if explicit:
                warn(f"metrics file {name} was not changed by the command; its values are not recorded")
            return None
        try:
            return metrics_files.read(path)
        except (OSError, ValueError, UnicodeDecodeError) as e:
            warn(f"metrics file {name} could not be read ({getattr(e, 'strerror', None) or e}); it is ignored")
            return None

    def _store_output(self) -> dict[str, Any]:
        from tmt.store.ids import hash_bytes

        data = self.capture.text().encode("utf-8")
        oid = hash_bytes(data)
        self.run._pin.add([oid])  # pinned before written: gc protocol
        self.repo.store.put(data, oid)
        return {"name": OUTPUT_ARTIFACT, "object": oid, "size": len(data), "format": "txt", "filename": "output.txt"}


def _frame_key(t: float, points) -> tuple:
    # repr: a NaN value must equal itself
    return (repr(float(t)), tuple((n, s, repr(float(v))) for n, s, v in points))


def _artifact(entry: Any, repo: Any) -> dict[str, Any] | None:
    """An artifact an attached process reported, checked before the record may hold it."""
    from tmt.store.ids import _OID_RE

    ok = (
        isinstance(entry, dict)
        and isinstance(entry.get("name"), str) and entry["name"]
        and isinstance(entry.get("object"), str) and _OID_RE.match(entry["object"])
        and isinstance(entry.get("size"), int) and not isinstance(entry["size"], bool)
        and all(isinstance(entry.get(k), str) for k in ("format", "filename"))
    )
    if not ok:
        warn("an attached process reported a malformed saved object; it is ignored")
        return None
    if not repo.store.has(entry["object"]):
        warn(f"an attached process reported object {entry['object'][:12]} for {entry['name']!r}, "
             "which is not in the store; it is ignored")
        return None
    return {k: entry[k] for k in ("name", "object", "size", "format", "filename")}


def _named(artifacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Artifacts with unique names: a repeated name gets _1, _2, ... (as allow_exist does)."""
    out, taken = [], set()
    for a in artifacts:
        name, n = a["name"], 1
        while name in taken:
            name = f"{a['name']}_{n}"
            n += 1
        taken.add(name)
        out.append({**a, "name": name})
    return out


def _python_traceback(capture: Capture) -> str | None:
    """The last Python traceback in the output of a failed command, if it printed one."""
    text = capture.text()
    at = text.rfind("Traceback (most recent call last):")
    if at < 0:
        return None
    return text[at:at + MAX_TRACEBACK].rstrip("\n") + "\n"


def run_command(spec: RunSpec) -> RunResult:
    """Record `spec.argv` as a run; returns once the command has exited and the run's final
    record is written. The command's working folder is the process's."""
    from tmt.repo import Repo

    if not spec.argv:
        from tmt.errors import UsageError

        raise UsageError("no command to run", "put the command after --: tmt run -- python train.py")
    cwd = Path(os.getcwd())
    program = spec.program or resolve_program(spec.argv[0])
    repo = spec.repo or Repo.find_or_create()
    argv_params, _ = argvmod.params_from_argv(spec.argv)
    parent = spec.parent
    if parent is None:
        from tmt.records.model import is_run_id

        outer = os.environ.get("TMT_RUN_ID", "")
        parent = outer if is_run_id(outer) else None  # `tmt run` inside a `tmt run`: its child
    run = LiveRun(spec.name or argvmod.default_name(spec.argv), tags=spec.tags,
                  params={**argv_params, **spec.params}, repo=repo, argv=spec.argv, parent=parent)
    run.env_extra = {"program": os.path.abspath(program),
                     "tmt_run": {"param": spec.params, "metrics_file": spec.metrics_files,
                                 "no_scalars": not spec.scalars}}
    run._begin(catch_sigterm=False, attach=False)
    forwarder = Forwarder()
    rec = None
    try:
        rec = _Recording(spec, run, cwd)
        if spec.on_started is not None:
            spec.on_started(run)
        forwarder.install()
        use_pty = stdout_is_terminal() if spec.pty is None else spec.pty
        try:
            # argv[0] is the program's path, not `python`: a venv's interpreter finds its venv
            # from argv[0], and PATH may now find another one
            argv = [program, *spec.argv[1:]] if spec.program else spec.argv
            command = start(argv, env=_child_env(run.id, repo.tmt_dir), cwd=None, use_pty=use_pty)
        except OSError as e:
            f = Fate("failed", 127 if isinstance(e, FileNotFoundError) else 126,
                     {"type": "OSError", "message": f"could not start {spec.argv[0]}: {e.strerror or e}",
                      "traceback": None})
        else:
            forwarder.attach(command)
            rec.command_pid = command.proc.pid
            f = fate(pump(command, forwarder, rec.on_output, rec.tick), command.forwarded)
        rec.finish(f)
    except BaseException as e:
        # tmt itself failed before the command's end was recorded: record that, as any run would
        if run._live:
            if rec is not None:
                rec.channel.abandon()
            run._end(e)
        raise
    finally:
        forwarder.restore()
    rec_ = run.record
    return RunResult(run.id, run.name, rec_.status, f.exit_code, dict(rec_.metrics), rec_.duration_s,
                     sorted(set(spec.overrides) - rec.applied), rec.capture.last_byte == b"\n")
