"""The TUI's key map, in one place: the screens' bindings, the `?` screen and docs/tui.md.

Each entry: (screen, Textual key names, the key as shown, action, what it does).
"""
from __future__ import annotations

RUNS, DETAIL, VIEW, EVERYWHERE = "runs", "run detail", "compare, diff, timeline", "everywhere"

KEYMAP: list[tuple[str, str, str, str, str]] = [
    (RUNS, "slash", "/", "filter", "filter bar (enter: apply and back to the list, esc: back)"),
    (RUNS, "enter", "enter", "open", "open the run: params, metrics, series, code, artifacts, env"),
    (RUNS, "space", "space", "mark", "mark or unmark the run"),
    (RUNS, "c", "c", "compare", "compare the marked runs: params, metrics, series overlaid"),
    (RUNS, "d", "d", "diff", "code diff of the two marked runs (one marked: it and this one;"),
    (RUNS, "", "", "", "  none: this run and the run of that name before it)"),
    (RUNS, "t", "t", "timeline", "timeline of the metric under the column cursor (or the first)"),
    (RUNS, "s", "s", "sort", "sort by the column under the column cursor (again: reverse)"),
    (RUNS, "o", "o", "checkout", "checkout -o: the run's code into a new folder (asks which)"),
    (RUNS, "x,delete", "x", "delete", "delete the marked runs, or this one (asks first)"),
    (RUNS, "y", "y", "copy_id", "copy the run's id to the clipboard (and show it)"),
    (RUNS, "u", "u", "unmark", "unmark every run"),
    (RUNS, "r", "r", "refresh", "read the store now (it is read every second anyway)"),
    (RUNS, "escape", "esc", "clear", "clear the filter"),
    (RUNS, "", "↑ ↓", "", "move (also j k, pgup pgdn, home end, g G)"),
    (RUNS, "", "← →", "", "move the column cursor (also h l)"),
    (DETAIL, "1", "1-5", "tab('overview')", "tabs: overview, series, code, artifacts, env"),
    (DETAIL, "2", "", "tab('series')", ""),
    (DETAIL, "3", "", "tab('code')", ""),
    (DETAIL, "4", "", "tab('artifacts')", ""),
    (DETAIL, "5", "", "tab('env')", ""),
    (DETAIL, "", "enter", "", "code tab: open the file (tab: between the tree and the file)"),
    (DETAIL, "d", "d", "diff", "code diff to the previous run (the run of that name before it)"),
    (DETAIL, "o", "o", "checkout", "checkout -o (asks for the folder)"),
    (DETAIL, "x,delete", "x", "delete", "delete this run (asks first)"),
    (DETAIL, "y", "y", "copy_id", "copy the run's id"),
    (DETAIL, "escape,backspace", "esc", "back", "back to the list"),
    (VIEW, "left_square_bracket", "[", "cycle(-1)", "the previous series (compare) or metric (timeline)"),
    (VIEW, "right_square_bracket", "]", "cycle(1)", "the next series or metric"),
    (VIEW, "escape,backspace", "esc", "back", "back"),
    (EVERYWHERE, "question_mark", "?", "help", "these keys"),
    (EVERYWHERE, "q", "q", "quit", "quit (in the filter bar q is a letter: esc first)"),
    (EVERYWHERE, "ctrl+c", "ctrl+c", "quit", "quit"),
]

#: the keys shown at the bottom of each screen, as many as fit (the last two always)
HINTS = {
    RUNS: ["/ filter", "enter open", "space mark", "c compare", "d diff", "t timeline", "s sort", "o checkout",
           "x delete", "y copy id", "? help", "q quit"],
    DETAIL: ["1-5 tabs", "d diff to previous", "o checkout", "x delete", "y copy id", "esc back", "? help", "q quit"],
    VIEW: ["[ ] switch", "↑↓ scroll", "esc back", "? help", "q quit"],
}


def fit_hints(items: list[str], width: int) -> str:
    """The hints that fit in `width` columns, two spaces apart, the last two always kept."""
    head, tail = items[:-2], items[-2:]
    out: list[str] = []
    used = len("  ".join(tail))
    for item in head:
        if used + len(item) + 2 > width:
            break
        out.append(item)
        used += len(item) + 2
    return "  ".join(out + tail)


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
        if not desc:
            continue
        if where != section:
            if section is not None:
                lines.append([])
            lines.append([(where, "bold underline")])
            section = where
        lines.append([("  " + shown.ljust(width) + "  ", "bold"), (desc, None)])
    lines += [[], [("filter language", "bold underline")]]
    for text in ("  name~^resnet f1>0.8 params.lr<=0.1 status:failed tag:paper since:7d",
                 "  until:2024-05-01 parent:REF (its sub-runs); every word must hold",
                 "  a bare word is a regular expression searched in run names;",
                 "  status:failed,crashed is either; quote a word to search names",
                 "  for it as typed ('a:b'); comparisons are those of tmt ls --where"):
        lines.append([(text, None)])
    return lines
