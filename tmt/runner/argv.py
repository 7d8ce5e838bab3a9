"""A command line read for params, and rewritten by `tmt rerun --set` (docs/run.md).

Read after the script (`python train.py ...`, `python -m pkg.train ...`, `bash run.sh ...`)
or the program (`./train --lr 0.1`):

- `--name=value` and `--name value` (a value does not start with `-`, unless it is a
  negative number, and is not itself a `name=value`); `--flag` alone is `true`. Names lose their dashes, and `-` becomes `_`
  (`--learning-rate` is `learning_rate`, as argparse and click name it).
- `name=value` (Hydra-style overrides; `+name=`/`++name=` too, the prefix dropped).
- Values: integers and decimal/scientific numbers become numbers, `true`/`false` (any
  case) booleans; anything else stays a string. Single-dash options (`-n 5`) and
  positional arguments are left to the parsers (argparse/click report what they parsed).
"""
from __future__ import annotations

import os
import re
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_INT = re.compile(r"[-+]?\d+\Z")
_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?\Z")
_OVERRIDE = re.compile(r"(?P<prefix>\+{0,2})(?P<name>[A-Za-z_][\w.\-/]*)=(?P<value>.*)\Z", re.S)
_OPTION = re.compile(r"--(?P<name>[A-Za-z_][\w.\-]*)(?:=(?P<value>.*))?\Z", re.S)
#: Programs whose first non-option argument is the script that names the run.
INTERPRETERS = re.compile(r"(?:python|pypy|ipython)[\d.]*|sh|bash|zsh|dash|ksh|fish|node|perl|ruby|Rscript|julia")
#: Python options that take a value (`python -W ignore x.py`).
_PY_VALUE_OPTS = {"-W", "-X", "--check-hash-based-pycs"}
_SH_VALUE_OPTS = {"-o", "-O", "+o", "+O"}


def coerce(text: str) -> Any:
    """A command-line value as the number or boolean it spells, else the string."""
    if _INT.match(text):
        try:
            return int(text)
        except ValueError:  # longer than int() accepts
            return text
    if _FLOAT.match(text):
        return float(text)
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    return text


def key(name: str) -> str:
    """The param name an option spells: `--learning-rate` and `learning_rate` alike."""
    return name.lstrip("-+").replace("-", "_")


def _is_python(prog: str) -> bool:
    return re.fullmatch(r"(?:python|pypy)[\d.]*", os.path.basename(prog)) is not None


def split_command(argv: list[str]) -> tuple[int, str | None, str | None]:
    """(index of the first argument after the script or program, the script or None, the
    module of `python -m` or None)."""
    if not argv:
        return 0, None, None
    prog = os.path.basename(argv[0])
    if not INTERPRETERS.fullmatch(prog):
        return 1, None, None
    python = _is_python(argv[0])
    values = _PY_VALUE_OPTS if python else _SH_VALUE_OPTS
    i = 1
    while i < len(argv):
        a = argv[i]
        if python and a == "-m" and i + 1 < len(argv):
            return i + 2, None, argv[i + 1]
        if a in ("-c", "-e") and i + 1 < len(argv):
            return i + 2, None, None
        if a == "--":
            return (i + 2, argv[i + 1], None) if i + 1 < len(argv) else (i + 1, None, None)
        if a.startswith("-") and a != "-":
            i += 2 if a in values else 1
            continue
        return i + 1, a, None
    return i, None, None


def default_name(argv: list[str]) -> str:
    """A run name from the command: the script's stem (`train` for `python train.py`), the
    module's last part for `python -m pkg.train`, else the program's name."""
    _, script, module = split_command(argv)
    if module:
        return module.rsplit(".", 1)[-1] or "run"
    base = os.path.basename(script or (argv[0] if argv else "")) or "run"
    stem = base.rsplit(".", 1)[0] if "." in base[1:] else base
    return stem or "run"


def params_from_argv(argv: list[str]) -> tuple[dict[str, Any], set[str]]:
    """(params the command line spells, the names that came from `--options`)."""
    start, _, _ = split_command(argv)
    params: dict[str, Any] = {}
    options: set[str] = set()
    args = argv[start:]
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            break
        m = _OPTION.match(a)
        if m:
            name = key(m["name"])
            if m["value"] is not None:
                value: Any = coerce(m["value"])
            elif i + 1 < len(args) and _is_value(args[i + 1]):
                value = coerce(args[i + 1])
                i += 1
            else:
                value = True
            params[name] = value
            options.add(name)
        else:
            m = _OVERRIDE.match(a)
            if m:
                params[m["name"]] = coerce(m["value"])
        i += 1
    return params, options


def _is_value(token: str) -> bool:
    """Whether `token`, after an `--option`, is its value: not another option (a negative
    number is a value) and not a `name=value` override (`--fast lr=0.1` is two params)."""
    if token.startswith("-"):
        return bool(_FLOAT.match(token))
    return _OVERRIDE.match(token) is None


def apply_set(argv: list[str], changes: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """`argv` with each {name: new value} written where the command line spells that name
    (`--name=v`, `--name v`, `name=v`); returns it and the changes it could not place. A
    bare `--flag` takes `false` by being removed and `true` by staying."""
    start, _, _ = split_command(argv)
    out = list(argv)
    left = dict(changes)
    wanted = {key(k): k for k in changes}
    i = start
    while i < len(out) and left:
        a = out[i]
        if a == "--":
            break
        m = _OPTION.match(a)
        if m and key(m["name"]) in wanted:
            original = wanted[key(m["name"])]
            new = left.pop(original, None)
            if new is None:
                i += 1
                continue
            if m["value"] is not None:
                out[i] = f"--{m['name']}={new}"
            elif i + 1 < len(out) and _is_value(out[i + 1]):
                out[i + 1] = new
                i += 1
            elif new.lower() in ("true", "false"):
                if new.lower() == "false":
                    del out[i]
                    continue
            else:
                left[original] = new  # a flag cannot take a value
        else:
            m = _OVERRIDE.match(a)
            if m and key(m["name"]) in wanted and wanted[key(m["name"])] in left:
                out[i] = f"{m['prefix']}{m['name']}={left.pop(wanted[key(m['name'])])}"
        i += 1
    return out, left
