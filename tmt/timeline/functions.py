"""Which Python functions changed between two versions of a file, from their syntax trees.

Each function, method and class gets a fingerprint of its own code: its signature,
decorators and body as `ast.dump` prints them (no line numbers, no comments, no
docstring), without the nested functions and classes, so that an edit is charged to the innermost
definition that holds it (and adding or reordering definitions changes none of the others). Code outside any definition is the
pseudo-function `<module>`. So moving a function, reformatting it or editing a comment
changes nothing; changing a default, a constant or one line of logic changes exactly the
definition that holds it.
"""
from __future__ import annotations

import ast
import warnings

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
#: A definition: what _DEFS matches.
Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
MODULE = "<module>"
#: Sources larger than this are not parsed (generated code, vendored bundles).
MAX_SOURCE = 2 * 1024 * 1024


def _body_dump(body: list[ast.stmt]) -> list[str]:
    out = []
    for i, stmt in enumerate(body):
        if i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
                and isinstance(stmt.value.value, str):
            continue  # a docstring is not behaviour
        if not isinstance(stmt, _DEFS):  # a nested definition is its own entry (added, removed, modified)
            out.append(ast.dump(stmt))
    return out


def _own_dump(node: Def) -> str:
    if isinstance(node, ast.ClassDef):
        head = [ast.dump(b) for b in node.bases] + [ast.dump(k) for k in node.keywords]
    else:
        head = [ast.dump(node.args), ast.dump(node.returns) if node.returns else ""]
    head += [ast.dump(d) for d in node.decorator_list]
    return "\n".join(head + ["--"] + _body_dump(node.body))


class Definition:
    """One definition of a file: its source text, and its fingerprint made only when asked
    (most definitions are compared by their text alone, which is far cheaper than a dump)."""

    __slots__ = ("text", "_node", "_own")

    def __init__(self, text: str, node: Def | list[ast.stmt]) -> None:
        self.text = text
        self._node: Def | list[ast.stmt] | None = node
        self._own: str | None = None

    @property
    def own(self) -> str:
        if self._own is None:
            node = self._node
            assert node is not None  # dropped only once the dump is made
            self._own = "\n".join(_body_dump(node)) if isinstance(node, list) else _own_dump(node)
            self._node = None  # the dump is all that is needed from now on
        return self._own


def fingerprints(source: bytes) -> dict[str, Definition] | None:
    """qualified name -> Definition for every function, method and class, plus `<module>`;
    None if the source is not Python this interpreter can parse (or is too large)."""
    if len(source) > MAX_SOURCE:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like in old code
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    lines = source.decode("utf-8", "replace").splitlines()
    out: dict[str, Definition] = {}
    covered: set[int] = set()

    def span(node: Def) -> tuple[int, int]:
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        return first - 1, node.end_lineno or node.lineno

    def visit(body: list[ast.stmt], prefix: str, top: bool) -> None:
        for stmt in body:
            for node in _defs_in(stmt):
                a, b = span(node)
                if top:
                    covered.update(range(a, b))
                name = prefix + node.name
                if name not in out:  # a redefinition keeps the first
                    out[name] = Definition("\n".join(lines[a:b]), node)
                visit(node.body, name + ".", False)

    visit(tree.body, "", True)
    module_text = "\n".join(line for i, line in enumerate(lines) if i not in covered)
    out[MODULE] = Definition(module_text, tree.body)
    return out


def _defs_in(stmt: ast.stmt) -> list[Def]:
    """Definitions directly in a statement: itself, or inside if/try/with blocks at that level."""
    if isinstance(stmt, _DEFS):
        return [stmt]
    found: list[Def] = []
    for field in ("body", "orelse", "finalbody", "handlers"):
        for child in getattr(stmt, field, None) or []:
            if isinstance(child, ast.ExceptHandler):
                for c in child.body:
                    found.extend(_defs_in(c))
            elif isinstance(child, ast.stmt):
                found.extend(_defs_in(child))
    return found


def changed_functions(old: dict[str, Definition] | None, new: dict[str, Definition] | None) -> list[tuple[str, str]]:
    """(qualified name, "modified" | "added" | "removed") for every definition that differs, sorted."""
    if old is None or new is None:
        return []
    out = []
    for name in sorted(old.keys() | new.keys(), key=lambda n: (n != MODULE, n)):
        a, b = old.get(name), new.get(name)
        if a is None or b is None:
            out.append((name, "added" if a is None else "removed"))
        elif a.text != b.text and a.own != b.own:  # same text: same code, no dump needed
            out.append((name, "modified"))
    return out
