"""tmt tui driven by Textual's Pilot against real temporary stores: what a person does, what the store holds after."""
from __future__ import annotations

import asyncio
import os
import time

import pytest

pytest.importorskip("textual")
# Each test drives a whole app (textual's pilot): the full suite runs them, the quick default run not.
pytestmark = pytest.mark.slow

import tmt  # noqa: E402
from cli_helpers import invoke, make_run  # noqa: E402
from tmt.cli.output import fmt_duration  # noqa: E402
from tui_helpers import NOW, SIZE, make_store, new_app, screen_text, settle  # noqa: E402


def drive(repo, steps, **kwargs):
    """Run the app, await `steps(pilot, app)`, return what it returned."""
    async def main():
        app = new_app(repo, **kwargs)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            return await steps(pilot, app)
    return asyncio.run(main())


def age_records(repo) -> None:
    """Records a minute old: records this fresh are read again by every sync of the index
    (their mtimes could hide a later change), a write and a new generation each time."""
    past = time.time() - 60
    for path in [*repo.experiments_dir.iterdir(), repo.experiments_dir]:
        os.utime(path, (past, past))


def shown_ids(app) -> list[str]:
    return [row.id for row in app.listing.window(0, len(app.listing.rids))]


async def type_filter(pilot, text: str) -> None:
    await pilot.press("slash")
    await pilot.press(*[{" ": "space"}.get(c, c) for c in text])
    await pilot.press("enter")
    await settle(pilot)


def test_filter_bar_selects_what_tmt_runs_selects(repo):
    make_store(repo)

    async def steps(pilot, app):
        await type_filter(pilot, "resnet f1>0.8")
        return shown_ids(app), screen_text(app)

    ids, text = drive(repo, steps)
    expected = [r.id for r in tmt.runs(name="resnet", where=["f1>0.8"], repo=repo)][::-1]
    assert ids == expected and len(ids) == 2
    assert "run 1/2 (of 6)" in text
    assert "bert" not in text


def test_filter_words_status_tag_since_and_spaces_around_operators(repo):
    make_store(repo)

    async def steps(pilot, app):
        out = {}
        for text in ("status:failed", "tag:paper", "since:2024-01-05", "f1 > 0.85", "'^(res|vi)'"):
            app.listing.set_filter(text)
            out[text] = shown_ids(app)
        return out

    got = drive(repo, steps)
    assert got["status:failed"] == [r.id for r in tmt.runs(status="failed", repo=repo)]
    assert got["tag:paper"] == [r.id for r in tmt.runs(tags=["paper"], repo=repo)][::-1]
    assert got["since:2024-01-05"] == [r.id for r in tmt.runs(since="2024-01-05", repo=repo)][::-1]
    assert got["f1 > 0.85"] == [r.id for r in tmt.runs(where="f1 > 0.85", repo=repo)][::-1]
    assert len(got["'^(res|vi)'"]) == 4


def test_a_bad_filter_is_shown_in_the_bar_and_the_list_stays(repo):
    make_store(repo)

    async def steps(pilot, app):
        await type_filter(pilot, "resnet")
        before = shown_ids(app)
        await pilot.press("slash")
        app.screen.query_one("#filter").value = "resnet f1>"  # one edit: one Changed event
        await settle(pilot)
        bad = screen_text(app), shown_ids(app)
        await pilot.press("escape", "escape")  # leave the bar, then clear the filter
        await settle(pilot)
        cleared = len(shown_ids(app))
        await type_filter(pilot, "f2>1")
        unknown = screen_text(app)
        await pilot.press("escape")
        await type_filter(pilot, "stauts:failed")
        return before, bad, cleared, unknown, screen_text(app)

    before, (bad, after), cleared, unknown, typo = drive(repo, steps)
    assert "Error: cannot parse where expression 'f1>'" in bad and after == before and len(before) == 3
    assert cleared == 6
    assert "Error: no run has a metric 'f2' (in 'f2>1'); did you mean 'f1'?" in unknown
    assert "Error: unknown filter 'stauts:'" in typo


def test_a_filter_on_a_key_new_to_the_index_fills_it_in_the_background(repo):
    """The first filter on a key fills the index's kv table for it (about 1.5 s at 100,000
    runs): in a thread, the list as it was meanwhile, then the filter applies. The fill is
    held here by another process's write transaction on the index."""
    import sqlite3

    make_store(repo)
    age_records(repo)  # else the app's own syncs would write, and wait for the lock held below
    kv_keys = "SELECT key FROM kv_keys ORDER BY key"

    async def steps(pilot, app):
        await type_filter(pilot, "resnet")
        before = shown_ids(app)
        other = sqlite3.connect(repo.tmt_dir / "index.sqlite", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            await pilot.press("slash")
            app.screen.query_one("#filter").value = "resnet f1>0.8"
            for _ in range(5):
                await pilot.pause()
            during = screen_text(app), shown_ids(app), other.execute(kv_keys).fetchall()
        finally:
            other.execute("ROLLBACK")
            other.close()
        await pilot.press("enter")
        await settle(pilot)
        return before, during, (screen_text(app), shown_ids(app))

    before, (text, ids, keys), (after_text, after) = drive(repo, steps)
    assert "Indexing f1 for filters (once for this store)…" in text
    assert ids == before and len(before) == 3 and keys == []
    assert after == [r.id for r in tmt.runs(name="resnet", where=["f1>0.8"], repo=repo)][::-1] and len(after) == 2
    assert "run 1/2 (of 6)" in after_text and "Indexing" not in after_text
    with sqlite3.connect(repo.tmt_dir / "index.sqlite") as conn:
        assert conn.execute(kv_keys).fetchall() == [("m:f1",)]


def test_space_marks_and_c_compares_the_marked_runs(repo):
    recs = make_store(repo)

    async def steps(pilot, app):
        await pilot.press("space", "down", "space")
        listed = screen_text(app)
        await pilot.press("c")
        await settle(pilot)
        return listed, screen_text(app), app.screen.body().text()

    listed, screen, body = drive(repo, steps)
    assert " *" + recs[5].id[:8] in listed and ">*" + recs[4].id[:8] in listed and "2 marked" in listed
    assert "compare 2 runs" in screen
    assert f"{recs[4].id[:8]} bert" in body and f"{recs[5].id[:8]} vit" in body
    assert "params" in body and "metrics" in body and "[loss]" in body
    lr_line = next(line for line in body.splitlines() if line.strip().startswith("lr "))
    assert "0.01" in lr_line and "0.1" in lr_line


def test_d_diffs_the_code_of_two_marked_runs(repo):
    recs = make_store(repo)

    async def steps(pilot, app):
        await type_filter(pilot, "resnet")
        await pilot.press("down", "space", "down", "space", "d")  # runs 2 and 1
        await settle(pilot)
        return app.screen.body().text()

    body = drive(repo, steps)
    assert f"a: run {recs[0].id[:8]} (resnet)" in body and f"b: run {recs[1].id[:8]} (resnet)" in body
    assert "-lr = 0.1" in body and "+lr = 0.01" in body
    assert "changed" in body  # the params table


def test_d_without_marks_diffs_with_the_previous_run_of_that_name(repo):
    recs = make_store(repo)

    async def steps(pilot, app):
        await type_filter(pilot, "resnet")
        await pilot.press("d")  # run 4, whose previous resnet is run 2
        await settle(pilot)
        return app.screen.body().text()

    body = drive(repo, steps)
    assert f"a: run {recs[1].id[:8]}" in body and f"b: run {recs[3].id[:8]}" in body
    assert "-lr = 0.01" in body and "+lr = 0.001" in body


def test_t_draws_the_timeline_of_the_metric_under_the_column_cursor(repo):
    make_store(repo)

    async def steps(pilot, app):
        while app.screen.table.current_column().header != "f1":
            await pilot.press("right")
        await pilot.press("t")
        await settle(pilot)
        return app.screen.body().text()

    body = drive(repo, steps)
    assert "f1 across 6 runs" in body


def test_s_sorts_by_the_column_under_the_column_cursor(repo):
    make_store(repo)

    async def steps(pilot, app):
        while app.screen.table.current_column().header != "f1":
            await pilot.press("right")
        await pilot.press("s")
        first = shown_ids(app), screen_text(app)
        await pilot.press("s")
        return first, shown_ids(app)

    (desc, text), asc = drive(repo, steps)
    runs = tmt.runs(repo=repo)
    assert desc == [r.id for r in runs.sort("f1", descending=True)]
    assert asc == [r.id for r in runs.sort("f1")]
    assert "f1▼" in text and "sorted by f1, highest first" in text


def test_o_asks_for_a_folder_and_checks_the_code_out_there(repo, project):
    recs = make_store(repo)

    async def steps(pilot, app):
        await pilot.press("o")
        await settle(pilot)
        asked = screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        cancelled = screen_text(app)
        await pilot.press("o")
        await settle(pilot)
        app.screen.query_one("#folder").value = ""
        await pilot.press(*"views/six", "enter")
        await settle(pilot)
        return asked, cancelled, screen_text(app)

    asked, cancelled, done = drive(repo, steps)
    assert f"write the code of run {recs[5].id[:8]} (vit) into folder:" in asked
    assert f"checkout-{recs[5].id[:8]}" in asked
    assert "Checkout cancelled." in cancelled and not (project / f"checkout-{recs[5].id[:8]}").exists()
    assert (project / "views" / "six" / "train.py").read_bytes() == b"lr = 0.1\n"
    assert f"Checked out run {recs[5].id[:8]} into views/six (1 files, read-only)." in done


def test_x_asks_before_deleting_and_deletes_the_records(repo):
    recs = make_store(repo)
    path = lambda rec: repo.experiments_dir / f"{rec.id}.json"  # noqa: E731

    async def steps(pilot, app):
        await pilot.press("x")
        await settle(pilot)
        asked = screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        kept = path(recs[5]).exists(), screen_text(app)
        await pilot.press("space", "down", "space", "x")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        return asked, kept, screen_text(app), shown_ids(app)

    asked, (kept, refused), done, ids = drive(repo, steps)
    assert "Delete 1 run?" in asked and f"{recs[5].id[:8]}  vit  completed" in asked
    assert kept and "Nothing deleted." in refused
    assert not path(recs[5]).exists() and not path(recs[4]).exists() and path(recs[3]).exists()
    assert "Deleted 2 runs; their objects stay in the store until `tmt gc`." in done
    assert ids == [r.id for r in recs[:4]][::-1]


def test_x_refuses_a_running_run(repo):
    make_run(repo, 1, "live", status="running", pid=os.getpid())

    async def steps(pilot, app):
        await pilot.press("x")
        await settle(pilot)
        return screen_text(app)

    text = drive(repo, steps)
    assert "is still recording; `tmt rm --force` deletes it." in text
    assert (repo.experiments_dir / f"{'1' * 32}.json").exists()


def test_y_copies_the_id_and_shows_it(repo):
    recs = make_store(repo)

    async def steps(pilot, app):
        await pilot.press("y")
        await settle(pilot)
        return app.copied, app.clipboard, screen_text(app)

    copied, clipboard, text = drive(repo, steps)
    assert copied == [recs[5].id] and clipboard == recs[5].id
    assert f"Copied {recs[5].id} to the clipboard." in text


def test_enter_opens_the_detail_with_its_tabs(repo):
    recs = make_store(repo)

    async def steps(pilot, app):
        await pilot.press("down", "down", "down", "enter")  # bert, failed
        await settle(pilot)
        out = {"overview": app.screen.query_one("#overview").text()}
        for key, tab in (("2", "series"), ("4", "artifacts"), ("5", "env")):
            await pilot.press(key)
            await settle(pilot)
            out[tab] = app.screen.query_one(f"#{tab}").text()
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        out["code"] = app.screen.query_one("#file").text()
        await pilot.press("escape")
        await settle(pilot)
        out["back"] = screen_text(app)
        return out

    out = drive(repo, steps)
    rec = recs[2]
    assert f"run {rec.id}" in out["overview"] and "ValueError: bad batch" in out["overview"]
    assert "lr" in out["overview"] and "f1" in out["overview"] and "0.64" in out["overview"]
    assert "loss" in out["series"] and "10 points" in out["series"] and "┤" in out["series"]
    assert "this run saved no artifacts" in out["artifacts"]
    assert rec.code["tree"] in out["env"] and "train.py --lr 0.1" in out["env"]
    assert "train.py" in out["code"] and "lr = 0.1" in out["code"]
    assert "run 4/6" in out["back"]


def test_question_mark_lists_the_keys_and_q_quits(repo):
    make_store(repo)

    async def steps(pilot, app):
        await pilot.press("question_mark")
        await settle(pilot)
        text = app.screen.body().text()
        await pilot.press("escape", "q")
        await pilot.pause()
        return text, app.is_running

    text, running = drive(repo, steps)
    assert "filter language" in text and "space" in text and "checkout -o" in text
    assert not running


def test_q_in_the_filter_bar_is_a_letter(repo):
    make_run(repo, 1, "squad")

    async def steps(pilot, app):
        await pilot.press("slash", "q")
        await settle(pilot)
        return app.is_running, app.screen.query_one("#filter").value

    assert drive(repo, steps) == (True, "q")


def test_the_list_follows_the_store(repo):
    make_run(repo, 1, "first")

    async def steps(pilot, app):
        make_run(repo, 2, "second")
        app.poll_now()
        for _ in range(50):
            await settle(pilot)
            if len(app.listing.rids) == 2:
                break
        return screen_text(app)

    text = drive(repo, steps)
    assert "second" in text and "run 1/2" in text


def test_a_running_runs_duration_and_every_age_move_with_the_clock(repo):
    from tmt.tui.listing import AGES_S

    make_run(repo, 1, "done", day=12)  # created at NOW
    make_run(repo, 2, "live", status="running", pid=os.getpid(), day=12)
    age_records(repo)
    clock = [NOW]

    def row_of(text: str, name: str) -> str:
        return next(line for line in text.splitlines() if f"  {name}  " in line)

    async def steps(pilot, app):
        shown = [screen_text(app)]
        for step in (5, AGES_S * 30):  # seconds later, then minutes: every poll redraws
            clock[0] += step
            app.poll_now()
            await settle(pilot)
            shown.append(screen_text(app))
        return shown

    first, later, much_later = (dict(live=row_of(t, "live"), done=row_of(t, "done")) for t in
                                drive(repo, steps, now=lambda: clock[0]))
    assert fmt_duration(0.0) in first["live"] and fmt_duration(5.0) in later["live"]
    assert "5m ago" in much_later["done"]


def test_a_hostile_store_cannot_drive_the_terminal(repo):
    evil = "\x1b[2J\x1b]52;c;aGk=\x07pwn"
    make_run(repo, 1, evil, params={evil: 1, "x": 2}, metrics={evil: 0.5}, tags=[evil],
             error={"type": evil, "message": evil, "traceback": evil}, files={"a.py": b"x = '\x1b[31m'\n"})
    make_run(repo, 2, evil, params={evil: 3, "x": 1}, metrics={evil: 0.7})

    async def steps(pilot, app):
        screens = [screen_text(app)]
        await pilot.press("enter")
        await settle(pilot)
        screens.append(app.screen.query_one("#overview").text())
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        screens.append(screen_text(app))
        await pilot.press("escape", "space", "down", "space", "c")
        await settle(pilot)
        screens.append(screen_text(app))
        return screens

    for text in drive(repo, steps):
        assert "\x1b" not in text and "\x07" not in text
        assert "\\x1b[2J" in text


def test_not_a_terminal_prints_tmt_ls(repo):
    make_store(repo)
    piped = invoke("tui", "resnet", "f1>0.8")
    assert piped.exit_code == 0
    assert piped.output == invoke("ls", "--name", "resnet", "--where", "f1>0.8").output
    bad = invoke("tui", "f1>")
    assert bad.exit_code == 2 and "Error: cannot parse where expression 'f1>'" in bad.output


def test_without_textual_the_error_names_the_extra(repo, monkeypatch):
    import sys

    from tmt.cli import cmd_tui

    make_store(repo)
    monkeypatch.setattr(cmd_tui, "on_terminal", lambda: True)
    for name in [m for m in sys.modules if m == "textual" or m.startswith(("textual.", "tmt.tui.app", "tmt.tui.screens",
                                                                             "tmt.tui.widgets"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "textual", None)
    result = invoke("tui")
    assert result.exit_code == 1
    assert "Error: tmt tui needs Textual, which is not installed" in result.output
    assert "pip install 'ThatMetricTimeline[tui]'" in result.output
