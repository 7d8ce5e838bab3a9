"""Helpers for the TUI tests: a store of known runs, the app under Textual's Pilot, the screen as text."""
from __future__ import annotations

import io
from datetime import datetime, timezone

from cli_helpers import make_run
from tmt.records.series import Series, encode_series

#: the clock the tests freeze the TUI at: two days after the runs of `make_store`
NOW = datetime(2024, 1, 12, 12, 0, tzinfo=timezone.utc).timestamp()
SIZE = (100, 30)


def make_store(repo) -> list:
    """Six runs of two names, with params, metrics, a tag, a failure and a series each."""
    recs = []
    for n, (name, lr, f1, status) in enumerate(
            [("resnet", 0.1, 0.71, "completed"), ("resnet", 0.01, 0.83, "completed"), ("bert", 0.1, 0.64, "failed"),
             ("resnet", 0.001, 0.88, "completed"), ("bert", 0.01, 0.79, "completed"), ("vit", 0.1, 0.91, "completed")],
            start=1):
        loss = repo.store.put(encode_series(Series("loss", list(range(10)), [1.0 / (k + n) for k in range(10)],
                                                   [float(k) for k in range(10)])))
        error = {"type": "ValueError", "message": "bad batch", "traceback": "Traceback ...\nValueError: bad batch\n"} \
            if status == "failed" else None
        recs.append(make_run(repo, n, name, status=status, params={"lr": lr, "batch": 32}, metrics={"f1": f1},
                             tags=["paper"] if n in (2, 4) else [], files={"train.py": f"lr = {lr}\n".encode()},
                             error=error, series={"loss": loss}))
    return recs


def screen_text(app) -> str:
    """What the terminal shows now, as plain text (Textual's screenshot, without the SVG)."""
    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system=None,
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def new_app(repo, **kwargs):
    from tmt.tui.app import TmtApp

    return TmtApp(repo, **{"now": lambda: NOW, "poll": False, **kwargs})


async def settle(pilot) -> None:
    """Wait until the app is idle: workers (diff, timeline) done, messages handled."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()
