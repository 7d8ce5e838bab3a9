"""The TUI's key map, in one place: the screens' bindings, the `?` screen and docs/tui.md.

Each entry: (screen, Textual key names, the key as shown, action, what it does).
"""
from __future__ import annotations

RUNS, DETAIL, VIEW, EVERYWHERE = "runs", "run detail", "compare, diff, timeline", "everywhere"

KEYMAP: list[tuple[str, str, str, str, str]] = [
    (RUNS, "slash", "/", "filter", "filter: type words of the filter language (Enter keeps them, Esc leaves the bar)"),
    (RUNS, "enter", "enter", "open", "the run's detail"),
    (RUNS, "space", "space", "mark", "mark or unmark the run"),
    (RUNS, "c", "c", "compare", "compare the marked runs (params, metrics, series overlaid)"),
    (RUNS, "d", "d", "diff", "code diff: two marked runs, a marked run and this one, or this run and the one before"),
    (RUNS, "t", "t", "timeline", "timeline of a metric: the column under the column cursor (or the first metric)"),
    (RUNS, "s", "s", "sort", "sort by the column under the column cursor (again: the other way)"),
    (RUNS, "o", "o", "checkout", "checkout -o: write the run's code into a new folder (asks for it)"),
    (RUNS, "x,delete", "x", "delete", "delete the marked runs, or this one (asks first)"),
    (RUNS, "y", "y", "copy_id", "copy the run's id to the clipboard (and show it)"),
    (RUNS, "u", "u", "unmark", "unmark every run"),
    (RUNS, "r", "r", "refresh", "read the store again now (it is polled every second anyway)"),
    (RUNS, "escape", "esc", "clear", "clear the filter"),
    (RUNS, "", "↑ ↓ pgup pgdn home end", "", "move (also j k g G)"),
    (RUNS, "", "← →", "", "move the column cursor (also h l)"),
    (DETAIL, "1", "1", "tab('overview')", "overview: the run, its params, metrics, outputs, error"),
    (DETAIL, "2", "2", "tab('series')", "series, as charts"),
    (DETAIL, "3", "3", "tab('code')", "code: the snapshot's files (enter opens one, tab moves between tree and file)"),
    (DETAIL, "4", "4", "tab('artifacts')", "artifacts"),
    (DETAIL, "5", "5", "tab('env')", "env: code snapshot, environment, packages"),
    (DETAIL, "d", "d", "diff", "code diff to the previous run (the run of that name before it)"),
    (DETAIL, "o", "o", "checkout", "checkout -o (asks for the folder)"),
    (DETAIL, "x,delete", "x", "delete", "delete this run (asks first)"),
    (DETAIL, "y", "y", "copy_id", "copy the run's id"),
    (DETAIL, "escape,backspace", "esc", "back", "back to the list"),
    (VIEW, "left_square_bracket", "[", "cycle(-1)", "the previous series (compare) or metric (timeline)"),
    (VIEW, "right_square_bracket", "]", "cycle(1)", "the next series or metric"),
    (VIEW, "escape,backspace", "esc", "back", "back"),
    (EVERYWHERE, "question_mark", "?", "help", "these keys"),
    (EVERYWHERE, "q", "q", "quit", "quit (in the filter bar q is a letter: Esc first)"),
    (EVERYWHERE, "ctrl+c", "ctrl+c", "quit", "quit"),
]

#: the keys shown at the bottom of each screen
HINTS = {
    RUNS: "/ filter  enter open  space mark  c compare  d diff  t timeline  s sort  o checkout  x delete  y copy id  "
          "? help  q quit",
    DETAIL: "1-5 tabs  d diff to previous  o checkout  x delete  y copy id  esc back  ? help  q quit",
    VIEW: "[ ] switch  ↑↓ scroll  esc back  ? help  q quit",
}


def bindings(screen: str) -> list:
    """Textual bindings of one screen's keys."""
    from textual.binding import Binding

    return [Binding(keys, action, desc.split(":")[0].split(" (")[0], show=False)
            for where, keys, _shown, action, desc in KEYMAP if where == screen and keys]


def help_lines() -> list[list[tuple[str, str | None]]]:
    lines: list[list[tuple[str, str | None]]] = []
    width = max(len(shown) for _w, _k, shown, _a, _d in KEYMAP)
    section = None
    for where, _keys, shown, _action, desc in KEYMAP:
        if where != section:
            if section is not None:
                lines.append([])
            lines.append([(where, "bold underline")])
            section = where
        lines.append([("  " + shown.ljust(width) + "  ", "bold"), (desc, None)])
    lines += [[], [("filter language", "bold underline")]]
    for text in ("  name~^resnet f1>0.8 params.lr<=0.1 status:failed tag:paper since:7d until:2024-05-01",
                 "  a bare word is a regular expression searched in run names; every word must hold;",
                 "  status:failed,crashed is either; quote a word to search names for it as typed ('a:b');",
                 "  parent:REF lists a run's sub-runs; comparisons are those of tmt ls --where"):
        lines.append([(text, None)])
    return lines
