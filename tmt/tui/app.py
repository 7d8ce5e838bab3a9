"""`tmt tui`: the runs list with its filter bar, and the App that holds every screen."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from tmt.errors import TmtError
from tmt.text import printable
from tmt.tui.keys import HINTS, RUNS, bindings
from tmt.tui.listing import Listing
from tmt.tui.screens import (
    AskFolder, CompareScreen, Confirm, DetailScreen, DiffScreen, HelpScreen, Hints, Message, TimelineScreen, Title,
)
from tmt.tui.widgets import RunTable

if TYPE_CHECKING:  # pragma: no cover
    from tmt.query.run import Run
    from tmt.repo import Repo

#: seconds between two looks at the store (a stat of the records folder when nothing changed)
POLL_S = 1.0
FILTER_HINT = "Filter: words that must all hold (? lists them); enter applies, esc goes back to the list."
PLACEHOLDER = "/ to filter: name~^resnet f1>0.8 params.lr<=0.1 status:failed tag:paper since:7d"


class RunsScreen(Screen):
    BINDINGS = bindings(RUNS)
    AUTO_FOCUS = "RunTable"
    #: while the index fills a key for a filter: whether the filter, once applied, chooses
    #: the columns (enter was pressed); None when no fill is running
    _after_fill: bool | None = None

    DEFAULT_CSS = """
    RunsScreen #filter { height: 1; border: none; padding: 0 1; }
    RunsScreen #status { height: 1; background: $panel; }
    """

    @property
    def tmt(self) -> "TmtApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Title(id="title")
        yield Input(value=self.tmt.listing.filter_text, placeholder=PLACEHOLDER, id="filter")
        yield RunTable(self.tmt.listing, id="table")
        yield Static(id="status")
        yield Message(id="message")
        yield Hints(HINTS[RUNS])

    @property
    def table(self) -> RunTable:
        return self.query_one(RunTable)

    def say(self, text: str, style: str | None = None) -> None:
        self.query_one("#message", Message).say(text, style)

    def on_mount(self) -> None:
        listing = self.tmt.listing
        self.query_one("#title", Title).show([(" tmt ", "bold"), (printable(str(self.tmt.repo.root)), None)])
        self.table.focus()
        self.update_status()
        if listing.error:
            self.say(f"Error: {listing.error}", "red")

    def update_status(self) -> None:
        listing, table = self.tmt.listing, self.table
        n = len(listing.rids)
        col = listing.columns[table.col]
        how = "highest first" if listing.descending else "lowest first"
        if listing.sort_key == "created_at":
            how = "newest first" if listing.descending else "oldest first"
        sort_header = next((c.header for c in listing.columns if c.sort_key == listing.sort_key), listing.sort_key)
        parts = [f"run {table.cursor + 1 if n else 0}/{n}"
                 + (f" (of {listing.total})" if listing.filters else "")]
        parts.append(f"sorted by {sort_header}, {how}")
        parts.append(f"column {col.header}")
        if table.marks:
            parts.append(f"{len(table.marks)} marked")
        self.query_one("#status", Static).update(Text(" " + " · ".join(parts), no_wrap=True, overflow="ellipsis"))

    def on_run_table_moved(self, _event: RunTable.Moved) -> None:
        self.update_status()

    # -- the filter bar ------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "filter" or event.value == self.tmt.listing.filter_text:
            return
        self._filter(event.value, columns=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "filter":
            return
        self._filter(event.value, columns=True)
        self.table.focus()

    def _filter(self, text: str, *, columns: bool) -> None:
        listing = self.tmt.listing
        if self._after_fill is not None:  # the fill's end applies what the bar holds then
            self._after_fill = self._after_fill or columns
            return
        keys = listing.unfilled_keys(text)
        if keys:
            # The index learns a key once per store (about 1.5 s at 100,000 runs): in the
            # background, the list staying as it was, never under a keystroke.
            self._after_fill = columns
            names = ", ".join(("params." if k.startswith("p:") else "") + k[2:] for k in keys)
            self.say(f"Indexing {names} for filters (once for this store)…", "yellow")
            self._fill(keys)
            return
        keep = self.table.current()
        if listing.set_filter(text, columns=columns):
            self.say(f"Error: {listing.error}" if listing.error else "", "red" if listing.error else None)
            self._keep_cursor(keep.id if keep else None)
        else:
            self.say(f"Error: {listing.error}", "red")

    @work(thread=True, exclusive=True, group="fill")
    def _fill(self, keys: list[str]) -> None:
        import sqlite3

        try:
            self.tmt.listing.fill_keys(keys)
        except (TmtError, sqlite3.Error) as e:  # the index busy for long (a rebuild), say
            self.app.call_from_thread(self._filled, getattr(e, "message", None) or f"the query index: {e}")
            return
        self.app.call_from_thread(self._filled, None)

    def _filled(self, error: str | None) -> None:
        columns, self._after_fill = bool(self._after_fill), None
        if error:
            self.say(f"Error: {error}", "red")
            return
        self._filter(self.query_one("#filter", Input).value, columns=columns)

    def _keep_cursor(self, run_id: str | None) -> None:
        pos = self.tmt.listing.position_of(run_id) if run_id else None
        self.table.cursor = pos if pos is not None else 0
        if pos is None:
            self.table.top = 0
        self.table.invalidate()

    def action_clear(self) -> None:
        """Esc: in the bar, back to the list (the filter stays); on the list, clear the filter."""
        bar = self.query_one("#filter", Input)
        if bar.has_focus:
            self.table.focus()
        elif bar.value:
            bar.value = ""
            self._filter("", columns=True)

    # -- actions -------------------------------------------------------------------------

    def action_filter(self) -> None:
        bar = self.query_one("#filter", Input)
        bar.focus()
        bar.cursor_position = len(bar.value)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, Input) and not self.tmt.listing.error:
            self.say(FILTER_HINT)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        message = self.query_one("#message", Message)
        if isinstance(event.widget, Input) and str(message.render()) == FILTER_HINT:
            self.say("")

    def _current_run(self) -> "Run | None":
        row = self.table.current()
        if row is None:
            self.say("No run here.", "yellow")
            return None
        try:
            return self.tmt.get_run(row.id)
        except TmtError as e:
            self.say(f"Error: {e.message}", "red")
            return None

    def action_open(self) -> None:
        run = self._current_run()
        if run is not None:
            self.app.push_screen(DetailScreen(run))

    def action_mark(self) -> None:
        self.table.toggle_mark()

    def action_unmark(self) -> None:
        self.table.marks.clear()
        self.table.refresh()
        self.update_status()

    def _marked_runs(self) -> list["Run"]:
        runs = []
        for run_id in self.table.marks:
            try:
                runs.append(self.tmt.get_run(run_id))
            except TmtError:  # deleted meanwhile
                pass
        return sorted(runs, key=lambda r: (r.created_at, r.id))

    def _pair(self) -> "list[Run] | None":
        """The runs c and d work on: the marked ones; one marked and the cursor's; none marked:
        the cursor's run alone."""
        marked = self._marked_runs()
        here = self._current_run()
        if len(marked) == 1 and here is not None and here.id != marked[0].id:
            marked = sorted([marked[0], here], key=lambda r: (r.created_at, r.id))
        if not marked:
            return [here] if here is not None else None
        return marked

    def action_compare(self) -> None:
        runs = self._pair()
        if runs is None:
            return
        if len(runs) < 2:
            self.say("Mark two or more runs with space to compare them (or one, and move to another).", "yellow")
            return
        self.app.push_screen(CompareScreen(runs))

    def action_diff(self) -> None:
        runs = self._pair()
        if runs is None:
            return
        if len(runs) == 1:
            prev = self.tmt.listing.previous(runs[0].id)
            if prev is None:
                self.say("No run before this one to compare with; mark two runs to diff them.", "yellow")
                return
            self.app.push_screen(DiffScreen(prev, runs[0].id))
        elif len(runs) == 2:
            self.app.push_screen(DiffScreen(runs[0].id, runs[1].id))
        else:
            self.say(f"{len(runs)} runs are marked: a diff takes two (u unmarks them all).", "yellow")

    def action_timeline(self) -> None:
        listing, table = self.tmt.listing, self.table
        metrics = [c.value.key for c in listing.columns if c.value is not None and c.value.kind == "metric"]
        col = table.current_column()
        if col.value is not None and col.value.kind == "metric":
            metric = col.value.key
        elif metrics:
            metric = metrics[0]
        else:
            self.say("No metric column to draw a timeline of.", "yellow")
            return
        filters = dict(listing.filters.kwargs())
        self.app.push_screen(TimelineScreen(metrics, metric, filters))

    def action_sort(self) -> None:
        listing, table = self.tmt.listing, self.table
        col = table.current_column()
        if col.sort_key == listing.sort_key:
            descending = not listing.descending
        else:
            descending = col.descending_first
        keep = table.current()
        try:
            listing.set_sort(col.sort_key, descending)
        except TmtError as e:
            self.say(f"Error: {e.message}", "red")
            return
        self._keep_cursor(keep.id if keep else None)
        self.say("")

    def action_checkout(self) -> None:
        run = self._current_run()
        if run is not None:
            self.tmt.ask_checkout(run, self.say)

    def action_delete(self) -> None:
        runs = self._marked_runs() or ([r] if (r := self._current_run()) is not None else [])
        if runs:
            self.tmt.ask_delete(runs, self.say, after=lambda: self.table.marks.clear())

    def action_copy_id(self) -> None:
        row = self.table.current()
        if row is None:
            self.say("No run here.", "yellow")
            return
        self.say(self.tmt.copy_id(row.id))

    def action_refresh(self) -> None:
        self.tmt.poll_now()

    def refreshed(self) -> None:
        """The listing changed under the table (new, finished or deleted runs)."""
        keep = self.table.current()
        self._keep_cursor(keep.id if keep else None)


class TmtApp(App):
    """The TUI. `now` is the clock ages are shown against (the tests freeze it)."""

    TITLE = "tmt"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit", "quit", show=False),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
        Binding("question_mark", "help", "help", show=False),
    ]

    def __init__(self, repo: "Repo", *, filter_text: str = "", metric_names: str | None = None,
                 param_names: str | None = None, column_names: str | None = None,
                 now: Callable[[], float] = time.time, poll: bool = True) -> None:
        super().__init__()
        self.repo = repo
        self.listing = Listing(repo, filter_text=filter_text, metric_names=metric_names, param_names=param_names,
                               column_names=column_names, now=now)
        self.polling = poll
        self.copied: list[str] = []  # ids copied (what the clipboard got)

    def on_mount(self) -> None:
        self.begin_capture_print(self, stdout=False, stderr=True)  # tmt's warnings go to the message line
        self.push_screen(RunsScreen())
        if self.polling:
            self.set_interval(POLL_S, self.poll_now)

    @property
    def runs_screen(self) -> RunsScreen:
        return next(s for s in self.screen_stack if isinstance(s, RunsScreen))

    def on_print(self, event: events.Print) -> None:
        text = event.text.strip()
        if text:
            self.say(text.splitlines()[-1], "yellow")

    def say(self, text: str, style: str | None = None) -> None:
        screen = self.screen
        if hasattr(screen, "say"):
            screen.say(text, style)

    def get_run(self, run_id: str) -> "Run":
        from tmt.query.refs import resolve

        return resolve(self.repo, run_id)

    # -- live updates --------------------------------------------------------------------

    def poll_now(self) -> None:
        self._poll()

    @work(thread=True, exclusive=True, group="poll")
    def _poll(self) -> None:
        try:
            found = self.listing.changes()
        except TmtError:
            return
        self.call_from_thread(self._apply, found)

    def _apply(self, found) -> None:
        screen = self.runs_screen
        if found is not None and self.listing.apply(found):
            screen.refreshed()
        elif self.listing.forget_moving():  # running runs' durations and values, ages
            screen.table.redraw()
        screen.update_status()

    # -- actions shared by the list and the detail ---------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def copy_id(self, run_id: str) -> str:
        self.copy_to_clipboard(run_id)
        self.copied.append(run_id)
        return f"Copied {run_id} to the clipboard."

    def ask_checkout(self, run: "Run", say: Callable[..., None]) -> None:
        from tmt.records.model import code_tree

        if code_tree(run.record, required=False) is None:
            say(f"Run {run.id[:8]} has no code snapshot to check out.", "yellow")
            return

        def done(folder: str | None) -> None:
            if not folder:
                say("Checkout cancelled.")
                return
            from tmt.workspace import checkout

            try:
                result = checkout(run.id, folder, repo=self.repo)
            except TmtError as e:
                say(f"Error: {e.message}" + (f" (hint: {e.hint})" if e.hint else ""), "red")
                return
            say(f"Checked out run {run.id[:8]} into {folder} ({result.written} files, read-only).", "green")

        self.push_screen(AskFolder(f"checkout -o: write the code of run {run.id[:8]} ({run.name}) into folder:",
                                   f"checkout-{run.id[:8]}"), done)

    def ask_delete(self, runs: list["Run"], say: Callable[..., None], after: Callable[[], object]) -> None:
        from tmt.cli.output import fmt_age

        live = [r for r in runs if r.status == "running"]
        if live:
            say(f"Run {live[0].id[:8]} ({live[0].name}) is still recording; `tmt rm --force` deletes it.", "yellow")
            return
        n = len(runs)
        what = f"{n} run{'s' if n != 1 else ''}"
        shown = [f"{r.id[:8]}  {r.name}  {r.status}  {fmt_age(r.created_at, self.listing.now())}" for r in runs[:10]]
        if n > 10:
            shown.append(f"… and {n - 10} more")

        def done(yes: bool | None) -> None:
            if not yes:
                say("Nothing deleted.")
                return
            from tmt.query import remove

            try:
                removed = remove([r.id for r in runs], repo=self.repo)
            except TmtError as e:
                say(f"Error: {e.message}", "red")
                return
            after()
            self.listing.poll()
            self.runs_screen.refreshed()
            k = len(removed)
            say(f"Deleted {k} run{'s' if k != 1 else ''}; their objects stay in the store until `tmt gc`.", "green")

        self.push_screen(Confirm(f"Delete {what}?", shown), done)
