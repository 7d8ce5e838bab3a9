"""Every command against every planted hostile store (tests/reliability/hostile.py, PLANTED):
nothing outside the store changes (bytes, modes, mtimes of a canary folder the planted links
aim at), nothing hangs (each command under an alarm), nothing prints a traceback or a control
character. Most commands run in-process (CliRunner, the same code as the `tmt` script);
`test_real_tmt_*` runs the installed `tmt` in subprocesses for the cases where a hang or a
crash would hide from an in-process run.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

import hostile
import workload
from tmt.cli import cli

# Every command against many planted stores: the full suite runs these, the quick default run does not.
pytestmark = pytest.mark.slow

ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
#: seconds any one command may take before it counts as hung
HANG_S = 60

# (label, argv with {a} {b} {out} placeholders); read-only commands first, writers after,
# in the order a user meeting a strange store would try them
COMMANDS = [
    ("fsck --json", ["fsck", "--json"]),  # first: later writers may mend what was planted
    ("fsck", ["fsck"]),
    ("ls", ["ls"]),
    ("ls --json", ["ls", "--json"]),
    ("ls --where --sort", ["ls", "--where", "f1 > 0", "--sort", "f1"]),
    ("show", ["show", "{b}"]),
    ("show --json", ["show", "--json", "{b}"]),
    ("diff A B", ["diff", "{a}", "{b}"]),
    ("diff --stat", ["diff", "--stat", "{a}", "{b}"]),
    ("diff B (working tree)", ["diff", "{b}"]),
    ("export", ["export"]),
    ("export --format json", ["export", "--format", "json"]),
    ("export -o", ["export", "-o", "{out}/runs.csv"]),
    ("checkout -o", ["checkout", "-o", "{out}/view", "{b}"]),
    ("checkout (in place)", ["checkout", "{b}"]),
    ("gc --dry-run", ["gc", "--dry-run"]),
    ("gc --grace 0", ["gc", "--grace", "0"]),
    ("rm --yes", ["rm", "--yes", "{a}"]),
    ("fsck --repair", ["fsck", "--repair"]),
    ("fsck after repair", ["fsck"]),
]
API = ["Artifact.load", "Run.code_path", "Runs.best", "Run.series"]
UNSAFE = "where tmt keeps its own"
#: case -> {command label: (exit status, text its output holds)}; beyond "no harm done",
#: what each planted fault must get ({b8}: the first 8 hex digits of run b)
EXPECT = {
    "tmp_symlink": {"gc --grace 0": (1, "tmp is a symbolic link"), "fsck --repair": (0, "repaired: moved to")},
    "gc_lock_symlink": {"gc --grace 0": (1, "gc.lock is a symbolic link"), "fsck after repair": (0, "no problems")},
    "gc_lock_fifo": {"gc --grace 0": (1, "gc.lock is a FIFO"), "fsck after repair": (0, "no problems")},
    "index_symlink": {"ls": (0, "index.sqlite is a symbolic link"), "ls --json": (0, "{b}")},
    "index_fifo": {"ls": (0, "index.sqlite is a FIFO")},
    "quarantine_symlink": {"fsck --repair": (0, "quarantine.unsafe-")},
    "artifacts_cache_symlink": {"gc --grace 0": (1, UNSAFE), "fsck after repair": (0, "no problems")},
    "checkouts_cache_symlink": {"gc --grace 0": (1, UNSAFE), "rm --yes": (0, "Deleted run {a8}"),
                                "fsck after repair": (0, "no problems")},
    "fanout_symlink": {"gc --grace 0": (1, "is a symbolic link")},
    "trash_symlink": {"gc --grace 0": (1, "is a symbolic link"), "fsck after repair": (0, "no problems")},
    "pins_symlink": {"diff B (working tree)": (1, "pins is a symbolic link")},
    "experiments_symlink": {"ls": (1, "experiments is a symbolic link"), "fsck after repair": (0, "no problems")},
    "object_symlink": {"diff A B": (1, "is corrupt: it is a symbolic link, not a file")},
    "object_fifo": {"diff A B": (1, "is corrupt: it is a FIFO, not a file")},
    "object_device": {"diff A B": (1, "is corrupt: it is a device, not a file")},
    "object_folder": {"checkout -o": (1, "is corrupt: it is a folder, not a file")},
    "record_fifo": {"ls": (0, "it is a FIFO, not a file"), "show": (2, "no run matches")},
    "record_symlink": {"ls": (0, "it is a symbolic link, not a file")},
    "config_code_root_outside": {"checkout (in place)": (2, "outside the project folder"),
                                 "diff B (working tree)": (2, "outside the project folder"),
                                 "diff A B": (0, "f1"), "checkout -o": (0, "Checked out"),
                                 "fsck": (1, "bad_config: "), "fsck --repair": (1, "outside the project folder")},
    "config_fifo": {"ls": (2, "config.toml: it is a FIFO, not a file")},
    "tree_bomb": {"checkout -o": (1, "expands to more than 10,000,000 paths"),
                  "diff A B": (1, "expands to more than 10,000,000 paths"), "checkout (in place)": (1, "expands")},
    "escapes": {"show": (0, "evil\\x1b[2J\\x1b]52;c;cHduZWQ=\\x07\\x9b31m\\u202ename\\n"),
                "ls": (0, "evil\\x1b[2J"), "diff A B": (0, '"b/t\\033[2J')},
    "huge_numbers": {"ls --where --sort": (0, "{b8}"), "show": (0, "1.00e+400"), "diff A B": (0, "1.00e+400")},
    "undecodable_names": {"ls": (0, "caf\\xe9\\xff"), "diff A B": (0, '"b/caf\\351.py"')},
    "stat_cache_flipped": {"fsck": (1, "is damaged: its checksum does not match")},
    "reserved_names_in_tree": {"checkout (in place)": (1, "entry name b'.git' is reserved"),
                               "checkout -o": (1, "entry name b'.git' is reserved"),
                               "fsck": (1, "is reserved: no snapshot holds .git or .tmt")},
    "venv_in_tree": {"checkout (in place)": (0, "Checked out")},
    "journal_sparse": {"ls": (0, "{b8}"), "show": (0, "running")},
    "pin_sparse": {"gc --grace 0": (1, "pins/h_1_00000000.pin is larger than 1 GiB: not a pin tmt writes"),
                   "fsck": (1, "pins/h_1_00000000.pin is larger than 1 GiB")},
}

#: what a terminal may be sent: printable characters and line breaks, nothing else
_CONTROL = re.compile(r"[^\n\S ]|[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(text: str, patch: bool = False) -> bool:
    """No control character but line breaks. In a `patch`, the lines of a file's content are
    the file's own bytes when piped (so that `git apply` gets them back; names are quoted as
    git quotes them): only the other lines are checked."""
    if patch:
        text = "\n".join(ln for ln in text.split("\n")
                         if ln.startswith(("+++ ", "--- ")) or not ln.startswith(("+", "-", " ")))
    return not any(not (ch == "\n" or ch.isprintable()) for ch in text)


class Hung(Exception):
    pass


@contextmanager
def alarm(seconds: int):
    """Interrupt the main thread if a command waits (a FIFO opened in blocking mode)."""
    def ring(signum, frame):
        raise Hung(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def planted(request, tmp_path: Path, project: Path):
    case = request.param
    if case == "object_device" and os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    outside = tmp_path / "outside"
    info = hostile.plant(case, project, outside)
    out = tmp_path / "out"
    out.mkdir()
    return case, project, outside, out, info


def _api(name: str, b: str):
    import tmt

    run = tmt.get(b)
    if name == "Artifact.load":
        return [a.load() for a in run.artifacts.values()]
    if name == "Run.code_path":
        return run.code_path()
    if name == "Runs.best":
        return tmt.runs().best("f1")
    return run.series("loss").values


@pytest.mark.parametrize("planted", sorted(hostile.PLANTED), indirect=True)
def test_every_command_on_a_planted_store(planted) -> None:
    case, project, outside, out, info = planted
    before = hostile.snapshot_tree(outside)
    runner = CliRunner()
    fsck_json = None
    expect = EXPECT.get(case, {})
    for label, argv in COMMANDS:
        args = [a.format(a=info.a, b=info.b, out=out) for a in argv]
        with alarm(HANG_S):
            r = runner.invoke(cli, args, env=ENV)
        what = f"{case}: tmt {label}"
        assert r.exception is None or isinstance(r.exception, SystemExit), (what, r.exc_info)
        assert r.exit_code in (0, 1, 2), (what, r.exit_code, r.output)
        assert "Traceback (most recent call last)" not in r.output, (what, r.output)
        assert clean(r.output, patch=argv[0] == "diff"), (what, r.output)
        assert hostile.snapshot_tree(outside) == before, (what, "changed a file outside the store")
        assert not [p for p in info.never_written if os.path.lexists(project / p)], (what, "wrote a planted path")
        if label in expect:
            code, text = expect[label]
            assert (r.exit_code, text.format(b=info.b, b8=info.b[:8], a8=info.a[:8]) in r.output) == (code, True), (what, r.output)
        if label == "fsck --json" and info.fsck:
            fsck_json = r.stdout
    if info.fsck:
        kinds = {p["kind"] for p in json.loads(fsck_json)["problems"]}
        assert info.fsck in kinds, (case, kinds)
    for name in API:
        with alarm(HANG_S):
            try:
                _api(name, info.b)
            except Exception as e:  # only tmt's own errors, each a message
                from tmt.errors import TmtError

                assert isinstance(e, TmtError), (case, name, repr(e))
                assert clean(str(e)), (case, name, str(e))  # line breaks allowed, nothing else
        assert hostile.snapshot_tree(outside) == before, (case, name, "changed a file outside the store")


#: the cases where an in-process run could hide a hang (a FIFO opened in blocking mode stops
#: a whole process) or a crash on output bytes (the real stdout's encoding)
REAL = ["tmp_symlink", "object_fifo", "record_fifo", "gc_lock_fifo", "tree_bomb", "escapes", "undecodable_names"]
#: read-only commands, run side by side; then the writers, one after the other
REAL_READERS = [["fsck"], ["ls"], ["show", "{b}"], ["diff", "{a}", "{b}"], ["checkout", "-o", "{out}/view", "{b}"]]
REAL_WRITERS = [["gc", "--grace", "0"], ["fsck", "--repair"]]


@pytest.mark.slow
@pytest.mark.parametrize("planted", REAL, indirect=True)
def test_real_tmt_on_a_planted_store(planted) -> None:
    """The installed `tmt`, in subprocesses with a timeout: exits with a status and a message,
    never hangs, never prints a traceback or a control byte, never touches the canary."""
    case, project, outside, out, info = planted
    before = hostile.snapshot_tree(outside)
    env = workload.child_env(COLUMNS="100")

    def start(argv: list[str]) -> subprocess.Popen:
        args = [a.format(a=info.a, b=info.b, out=out) for a in argv]
        return subprocess.Popen([workload.tmt_command(), *args], cwd=project, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def check(argv: list[str], proc: subprocess.Popen) -> None:
        try:
            stdout, stderr = proc.communicate(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"{case}: tmt {' '.join(argv)} hung") from None
        what = f"{case}: tmt {' '.join(argv)}"
        err = stderr.decode("utf-8")  # a lone surrogate would not decode
        out = stdout.decode("utf-8", "surrogateescape" if argv[0] == "diff" else "strict")  # a patch: the file's bytes
        assert proc.returncode in (0, 1, 2), (what, proc.returncode, out + err)
        assert "Traceback (most recent call last)" not in out + err, (what, out + err)
        assert clean(out, patch=argv[0] == "diff") and clean(err), (what, out + err)

    procs = [(argv, start(argv)) for argv in REAL_READERS]
    for argv, proc in procs:
        check(argv, proc)
    for argv in REAL_WRITERS:
        check(argv, start(argv))
    assert hostile.snapshot_tree(outside) == before, (case, "changed a file outside the store")
