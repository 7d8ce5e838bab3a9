"""Snapshots of the TUI's screens as text, at 100 x 30 with the clock frozen (tests/data/tui/*.txt).

Text rather than pytest-textual-snapshot's SVG: a text snapshot is what a person reads (and
what `tmux capture-pane` sees), its diff in a review is readable, and it does not change
with Textual's colours or SVG markup from one release to the next. Styles are checked by
the behaviour tests where they matter. TMT_UPDATE_GOLDEN=1 rewrites them.
"""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

pytest.importorskip("textual")
# Each test drives a whole app (textual's pilot): the full suite runs them, the quick default run not.
pytestmark = pytest.mark.slow

from tui_helpers import SIZE, make_store, new_app, screen_text, settle  # noqa: E402

DATA = Path(__file__).parent / "data" / "tui"
UPDATE = bool(os.environ.get("TMT_UPDATE_GOLDEN"))  # read at import: the fixtures clear TMT_*


async def _to(pilot, *keys):
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


SCREENS = {
    "runs": (),
    "runs_filtered_marked": ("slash", *"resnet", "enter", "space", "down", "space"),
    "runs_filter_error": ("slash", *"f1>", "escape"),
    "detail_overview": ("down", "down", "down", "enter"),
    "detail_series": ("enter", "2"),
    "detail_code": ("enter", "3", "down", "enter"),
    "compare": ("space", "down", "space", "c"),
    "diff": ("slash", *"resnet", "enter", "d"),
    "timeline": ("right", "right", "t"),
    "help": ("question_mark",),
    "confirm_rm": ("space", "down", "space", "x"),
    "checkout_ask": ("o",),
}


@pytest.mark.parametrize("name", list(SCREENS))
def test_screen(repo, name):
    make_store(repo)

    async def main():
        app = new_app(repo)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await _to(pilot, *SCREENS[name])
            return screen_text(app)

    text = asyncio.run(main()).replace(str(repo.root), "<project>") + "\n"
    path = DATA / f"{name}.txt"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"the {name} screen changed (TMT_UPDATE_GOLDEN=1 rewrites it)"
