"""The real `tmt tui` in a real terminal: tmux runs it, send-keys types, capture-pane reads the screen."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytest.importorskip("textual")

from tui_helpers import make_store  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]
TMT = str(Path(sys.executable).parent / "tmt")
WAIT_S = 90.0  # only bounds a hang: every wait below ends as soon as the screen shows what it waits for


class Tmux:
    """One tmux server of its own (-L), one 100 x 30 window running `command`."""

    def __init__(self, cwd: Path, command: str) -> None:
        self.socket = f"tmt-test-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
        env.update(TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30",
                        "-s", "t", f"cd '{cwd}' && {command}; echo EXITED $?; sleep 600"], check=True, env=env)

    def keys(self, *keys: str, literal: bool = False) -> None:
        subprocess.run(["tmux", "-L", self.socket, "send-keys", "-t", "t", *(["-l"] if literal else []), *keys],
                       check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p", "-t", "t"], check=True,
                              capture_output=True, text=True).stdout

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + WAIT_S
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen:\n{screen}")
            time.sleep(0.1)

    def wait_gone(self, text: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while text in self.screen():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never went away; the screen:\n{self.screen()}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def tui(repo):
    recs = make_store(repo)
    t = Tmux(repo.root, f"'{TMT}' tui")
    try:
        t.wait_for("run 1/6")
        yield t, recs
    finally:
        t.close()


def test_filter_mark_compare_delete_and_quit_in_a_real_terminal(tui, repo):
    t, recs = tui
    t.keys("/")
    t.wait_for("Filter: words that must all hold")
    t.keys("resnet f1>0.8", literal=True)
    t.keys("Enter")
    screen = t.wait_for("run 1/2 (of 6)")
    assert recs[3].id[:8] in screen and recs[1].id[:8] in screen and "vit" not in screen

    t.keys("Space", "Down", "Space")
    t.wait_for("2 marked")
    t.keys("c")
    screen = t.wait_for("compare 2 runs")
    assert f"{recs[1].id[:8]} resnet" in screen and "[loss]" in screen

    t.keys("Escape")
    t.wait_for("2 marked")
    t.keys("d")
    screen = t.wait_for("+lr = 0.001")
    assert "-lr = 0.01" in screen

    t.keys("Escape")
    t.wait_for("2 marked")
    t.keys("x")
    t.wait_for("Delete 2 runs?")
    t.keys("y")
    t.wait_for("Deleted 2 runs")
    assert not (repo.experiments_dir / f"{recs[3].id}.json").exists()
    assert not (repo.experiments_dir / f"{recs[1].id}.json").exists()
    assert (repo.experiments_dir / f"{recs[0].id}.json").exists()

    t.keys("q")
    t.wait_for("EXITED 0")


def test_checkout_o_and_the_help_in_a_real_terminal(tui, repo):
    t, recs = tui
    t.keys("?")
    t.wait_for("tmt tui: keys")
    t.keys("Escape")
    t.wait_for("run 1/6")
    t.keys("o")
    t.wait_for(f"checkout-{recs[5].id[:8]}")  # the folder asked for, with a default
    t.keys("C-u")
    t.wait_gone(f"checkout-{recs[5].id[:8]}")
    t.keys("out/vit", literal=True)
    t.wait_for("out/vit")
    t.keys("Enter")
    t.wait_for(f"Checked out run {recs[5].id[:8]} into out/vit")
    assert (repo.root / "out" / "vit" / "train.py").read_bytes() == b"lr = 0.1\n"
    t.keys("y")
    t.wait_for(f"Copied {recs[5].id} to the clipboard.")
    t.keys("C-c")
    t.wait_for("EXITED 0")
