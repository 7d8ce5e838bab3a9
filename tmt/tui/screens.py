"""The TUI's screens above the runs list: a run's detail, compare, diff, timeline, help, and
the questions asked before checkout -o and rm."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import ContentSwitcher, Input, Static, Tree

from tmt.text import printable
from tmt.tui import content
from tmt.tui.keys import DETAIL, HINTS, VIEW, bindings, fit_hints, help_lines
from tmt.tui.widgets import LinesView, Segments

if TYPE_CHECKING:  # pragma: no cover
    from tmt.query.run import Run
    from tmt.tui.app import TmtApp

TABS = ("overview", "series", "code", "artifacts", "env")


def segments_text(segments: Segments) -> Text:
    """Segments as a rich Text (never parsed as markup)."""
    t = Text(no_wrap=True, overflow="crop")
    for text, style in segments:
        t.append(printable(text), style=style or "")
    return t


class Title(Static):
    DEFAULT_CSS = "Title { height: 1; background: $primary-background; text-style: bold; }"

    def show(self, segments: Segments) -> None:
        self.update(segments_text(segments))


class Hints(Static):
    """The keys of the screen, as many as the width holds (`? help` and `q quit` always)."""

    DEFAULT_CSS = "Hints { height: 1; color: $text-muted; }"

    def __init__(self, items: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.items = items

    def render(self) -> Text:
        return Text(fit_hints(self.items, self.size.width or 80), no_wrap=True, overflow="crop")


class Message(Static):
    """One line of news: an error (red), what an action did, a copied id."""

    DEFAULT_CSS = "Message { height: 1; }"

    def say(self, text: str, style: str | None = None) -> None:
        self.update(Text(printable(text), style=style or "", no_wrap=True, overflow="ellipsis"))


class ViewScreen(Screen):
    """A title, lines to scroll, a message line and the keys: compare, diff, timeline."""

    BINDINGS = bindings(VIEW)
    hints = HINTS[VIEW]

    def compose(self) -> ComposeResult:
        yield Title(id="title")
        yield LinesView(id="body")
        yield Message(id="message")
        yield Hints(self.hints)

    @property
    def tmt(self) -> "TmtApp":
        return self.app  # type: ignore[return-value]

    def body(self) -> LinesView:
        return self.query_one("#body", LinesView)

    def say(self, text: str, style: str | None = None) -> None:
        self.query_one("#message", Message).say(text, style)

    def on_mount(self) -> None:
        self.body().focus()
        self.draw()

    def on_resize(self) -> None:
        self.draw()

    def draw(self) -> None:  # pragma: no cover - every screen has its own
        raise NotImplementedError

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_cycle(self, delta: int) -> None:
        pass


class CompareScreen(ViewScreen):
    """Marked runs side by side: params, metrics, one series overlaid ([ and ] switch)."""

    def __init__(self, runs: list["Run"]) -> None:
        super().__init__()
        self.runs = runs
        self.names = content.series_names(runs)
        self.series = self.names[0] if self.names else None

    def draw(self) -> None:
        self.query_one("#title", Title).show([(f" compare {len(self.runs)} runs", None)])
        width = self.body().size.width or self.app.size.width
        self.body().set_lines(content.compare(self.runs, self.series, width))

    def action_cycle(self, delta: int) -> None:
        if self.names and self.series is not None:  # (a series is shown whenever there are names)
            self.series = self.names[(self.names.index(self.series) + delta) % len(self.names)]
            self.draw()


class DiffScreen(ViewScreen):
    """The code diff of two runs (a, b), then their params and metrics; made in a thread."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__()
        self.a, self.b = a, b
        self.lines: list[Segments] | None = None

    def on_mount(self) -> None:
        self.body().focus()
        self.query_one("#title", Title).show([(f" diff {self.a[:8]} {self.b[:8]}", None)])
        self.body().set_lines([[("  computing the diff…", "dim")]])
        self.compute()

    def draw(self) -> None:
        if self.lines is not None:
            self.body().set_lines(self.lines)

    @work(thread=True, exclusive=True)
    def compute(self) -> None:
        from tmt.errors import TmtError
        from tmt.workspace import diff

        try:
            lines = content.diff(diff(self.a, self.b, repo=self.tmt.repo))
        except TmtError as e:
            lines = content.error_lines(e.message, e.hint)
        self.app.call_from_thread(self._done, lines)

    def _done(self, lines: list[Segments]) -> None:
        self.lines = lines
        self.draw()


class TimelineScreen(ViewScreen):
    """A metric across the runs of the list's filter, oldest first, its jumps explained."""

    #: newest runs analysed (DESIGN: 1,000 runs in under 2 s)
    LIMIT = 1000

    def __init__(self, metrics: list[str], metric: str, filters: dict[str, Any]) -> None:
        super().__init__()
        self.metrics, self.metric, self.filters = metrics, metric, filters
        self.result: tuple[str, Any] | None = None

    def on_mount(self) -> None:
        self.body().focus()
        self.compute_for(self.metric)

    def compute_for(self, metric: str) -> None:
        self.metric = metric
        self.query_one("#title", Title).show([(f" timeline of {printable(metric)}", None)])
        self.body().set_lines([[("  analysing…", "dim")]])
        self.compute(metric)

    @work(thread=True, exclusive=True)
    def compute(self, metric: str) -> None:
        from tmt.errors import TmtError
        from tmt.timeline.analysis import timeline

        try:
            result: tuple[str, Any] = ("ok", timeline(metric, **self.filters, limit=self.LIMIT, repo=self.tmt.repo))
        except TmtError as e:
            result = ("error", e)
        self.app.call_from_thread(self._done, metric, result)

    def _done(self, metric: str, result: tuple[str, Any]) -> None:
        if metric == self.metric:
            self.result = result
            self.draw()

    def draw(self) -> None:
        if self.result is None:
            return
        kind, value = self.result
        if kind == "error":
            self.body().set_lines(content.error_lines(value.message, value.hint))
            return
        width = self.body().size.width or self.app.size.width
        note = f"(the newest {self.LIMIT} runs of the list)" if len(value.runs) + value.skipped >= self.LIMIT else ""
        others = "  ".join(m for m in self.metrics if m != self.metric)
        lines = content.timeline(value, width, note)
        if others:
            lines += [[], [("  other metrics ([ and ]): " + printable(others), "dim")]]
        self.body().set_lines(lines)

    def action_cycle(self, delta: int) -> None:
        if len(self.metrics) > 1 and self.metric in self.metrics:
            self.compute_for(self.metrics[(self.metrics.index(self.metric) + delta) % len(self.metrics)])


class HelpScreen(ViewScreen):
    hints = ["↑↓ scroll", "esc back", "q quit"]

    def draw(self) -> None:
        self.query_one("#title", Title).show([(" tmt tui: keys", None)])
        self.body().set_lines(help_lines())

    def action_help(self) -> None:
        self.app.pop_screen()


class DetailScreen(Screen):
    """One run: tabs 1-5 (overview, series, code, artifacts, env)."""

    BINDINGS = bindings(DETAIL)

    DEFAULT_CSS = """
    DetailScreen #switcher { height: 1fr; }
    DetailScreen #code { height: 1fr; }
    DetailScreen #tree { width: 40%; height: 1fr; }
    DetailScreen #file { width: 1fr; }
    DetailScreen #tabs { height: 1; }
    """

    def __init__(self, run: "Run") -> None:
        super().__init__()
        self.run = run
        self.tab = "overview"
        self._filled: set[str] = set()

    @property
    def tmt(self) -> "TmtApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Title(id="title")
        yield Static(id="tabs")
        with ContentSwitcher(initial="overview", id="switcher"):
            yield LinesView(id="overview")
            yield LinesView(id="series")
            with Horizontal(id="code"):
                yield Tree(Text("code"), id="tree")
                yield LinesView(id="file")
            yield LinesView(id="artifacts")
            yield LinesView(id="env")
        yield Message(id="message")
        yield Hints(HINTS[DETAIL])

    def say(self, text: str, style: str | None = None) -> None:
        self.query_one("#message", Message).say(text, style)

    def on_mount(self) -> None:
        r = self.run
        self.query_one("#title", Title).show([(f" run {r.id[:8]}  ", None), (printable(r.name), None),
                                              (f"  {r.status}", None)])
        self.action_tab("overview")

    def on_resize(self) -> None:
        if "series" in self._filled:
            self._filled.discard("series")
            if self.tab == "series":
                self._fill("series")

    def _fill(self, tab: str) -> None:
        from tmt.errors import TmtError

        if tab in self._filled:
            return
        self._filled.add(tab)
        try:
            if tab == "code":
                self._fill_tree()
                return
            view = self.query_one(f"#{tab}", LinesView)
            if tab == "overview":
                from tmt.query.runs import select

                lines = content.overview(self.run, list(select(self.tmt.repo, parent=self.run.id)),
                                         now=self.tmt.listing.now())
            elif tab == "series":
                lines = content.series(self.run, view.size.width or self.app.size.width)
            elif tab == "artifacts":
                lines = content.artifacts(self.run)
            else:
                lines = content.environment(self.run)
            view.set_lines(lines)
        except TmtError as e:
            self.say(f"Error: {e.message}", "red")

    def action_tab(self, tab: str) -> None:
        self.tab = tab
        self.query_one("#switcher", ContentSwitcher).current = tab
        shown = Text(no_wrap=True)
        for n, name in enumerate(TABS, 1):
            label = f"{n} {name}"
            if name == tab:
                shown.append(f"[{label}]", style="bold reverse")
            else:
                shown.append(f" {label} ", style="dim")
            shown.append(" ")
        self.query_one("#tabs", Static).update(shown)
        self._fill(tab)
        target = self.query_one("#tree", Tree) if tab == "code" else self.query_one(f"#{tab}", LinesView)
        target.focus()

    # -- the code browser ----------------------------------------------------------------

    def _fill_tree(self) -> None:
        from tmt.records.model import code_tree

        tree = self.query_one("#tree", Tree)
        oid = code_tree(self.run.record, required=False)
        tree.root.set_label(Text(f"{self.run.id[:8]} code" + ("" if oid else " (no snapshot)")))
        if oid:
            tree.root.data = ("tree", oid, "")
            self._expand(tree.root)
        tree.root.expand()

    def _expand(self, node) -> None:
        from tmt.snapshot.checkout import read_tree

        kind, oid, path = node.data
        if kind != "tree" or node.children:
            return
        entries = read_tree(self.tmt.repo.store, oid)
        for e in sorted(entries, key=lambda e: (not e.is_tree, e.name)):
            name = e.name.decode("utf-8", "surrogateescape")
            sub = f"{path}/{name}" if path else name
            label = Text(printable(name) + ("/" if e.is_tree else ""), style="bold" if e.is_tree else "")
            if e.is_tree:
                node.add(label, data=("tree", e.oid, sub))
            else:
                node.add_leaf(label, data=(e.kind, e.oid, sub))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        from tmt.errors import TmtError

        if event.node.data:
            try:
                self._expand(event.node)
            except TmtError as e:
                self.say(f"Error: {e.message}", "red")

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        from tmt.errors import TmtError

        data = event.node.data
        if not data or data[0] == "tree":
            return
        kind, oid, path = data
        try:
            blob = self.tmt.repo.store.get(oid)
        except TmtError as e:
            self.say(f"Error: {e.message}", "red")
            return
        view = self.query_one("#file", LinesView)
        if kind == "symlink":
            view.set_lines([[(printable(path), "bold"), ("  symlink to ", "dim"),
                             (printable(blob.decode("utf-8", "surrogateescape")), None)]])
        else:
            view.set_lines(content.file_lines(blob, path))
        view.scroll_home(animate=False)

    # -- actions -------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_diff(self) -> None:
        prev = self.tmt.listing.previous(self.run.id)
        if prev is None:
            self.say("No run before this one to compare with.", "yellow")
            return
        self.app.push_screen(DiffScreen(prev, self.run.id))

    def action_checkout(self) -> None:
        self.tmt.ask_checkout(self.run, self.say)

    def action_delete(self) -> None:
        self.tmt.ask_delete([self.run], self.say, after=self.app.pop_screen)

    def action_copy_id(self) -> None:
        self.say(self.tmt.copy_id(self.run.id))


class Confirm(ModalScreen[bool]):
    """A yes/no question: y or enter for yes, n or esc for no."""

    BINDINGS = [Binding("y,enter", "answer(True)", "yes"), Binding("n,escape", "answer(False)", "no")]
    DEFAULT_CSS = """
    Confirm { align: center middle; }
    Confirm > Vertical { width: 80%; max-width: 100; height: auto; border: thick $error; background: $surface;
                         padding: 0 1; }
    """

    def __init__(self, question: str, lines: list[str]) -> None:
        super().__init__()
        self.question, self.lines = question, lines

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(printable(self.question), style="bold"))
            for line in self.lines:
                yield Static(Text(printable(line), no_wrap=True, overflow="ellipsis"))
            yield Static(Text("y / enter: yes    n / esc: no", style="dim"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class AskFolder(ModalScreen["str | None"]):
    """The folder for checkout -o: enter writes the code there, esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    AskFolder { align: center middle; }
    AskFolder > Vertical { width: 80%; max-width: 100; height: auto; border: thick $accent; background: $surface;
                           padding: 0 1; }
    AskFolder #folder { border: none; height: 1; padding: 0; }
    """

    def __init__(self, question: str, default: str) -> None:
        super().__init__()
        self.question, self.default = question, default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(printable(self.question), style="bold"))
            yield Input(value=self.default, id="folder")
            yield Static(Text("enter: write the code there (a new or empty folder)    esc: cancel", style="dim"))

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
