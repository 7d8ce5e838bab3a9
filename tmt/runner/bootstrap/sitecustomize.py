"""tmt's bootstrap for the Python processes a `tmt run` starts: report what argparse and click
actually parsed to the run (docs/run.md, "Params").

`tmt run` puts this folder first on PYTHONPATH, so Python's `site` imports this module as
`sitecustomize`. It installs an import hook that patches argparse and click when (and only
when) the program imports them, then takes itself off sys.path and imports the next
`sitecustomize` on the path, so the environment's own one still runs as it would have.

It never imports tmt (the command's Python may not have it, or be another version), keeps
to syntax every Python 3 reads, and never breaks the program: every error inside is
swallowed. Events go to the run's channel (tmt/recorder/attach.py): one JSON line,
appended under a shared flock, only while the channel is still linked.
"""
import os
import sys
import threading

_HERE = os.path.dirname(os.path.abspath(__file__))
_state = threading.local()
_header_cache: list[dict] = []  # the attach channel's header, read once


def _channel():
    tmt_dir, run_id = os.environ.get("TMT_DIR"), os.environ.get("TMT_RUN_ID")
    if not tmt_dir or not run_id:
        return None
    return os.path.join(tmt_dir, "journal", run_id + ".attach")


def _header():
    if not _header_cache:
        import json

        header = {}
        try:
            fd = _open(_channel(), os.O_RDONLY)
            with os.fdopen(fd, "rb") as f:
                header = json.loads(f.readline(1 << 20).decode("utf-8"))
        except Exception:
            pass
        _header_cache.append(header if isinstance(header, dict) else {})
    return _header_cache[0]


def _send(event):
    import json

    event["pid"] = os.getpid()
    _append((json.dumps(event, default=str) + "\n").encode("utf-8"))


def _append(line):
    import fcntl

    path = _channel()
    if path is None:
        return
    fd = _open(path, os.O_WRONLY | os.O_APPEND)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        if os.fstat(fd).st_nlink > 0:  # the run has not ended
            os.write(fd, line)
    finally:
        os.close(fd)


def _open(path, flags):
    """The channel, never through a symlink nor blocking on a FIFO; a regular file or OSError."""
    import stat

    fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError("not a regular file: " + path)
    return fd


def _safe(value, depth=0):
    """A JSON value for a parsed argument (Paths and other objects as strings)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, str) and len(value) > 4096:
            return value[:4096]
        return value
    if depth < 4 and isinstance(value, (list, tuple)) and len(value) <= 256:
        return [_safe(v, depth + 1) for v in value]
    if depth < 4 and isinstance(value, dict) and len(value) <= 256:
        return dict((str(k), _safe(v, depth + 1)) for k, v in value.items())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    name = getattr(value, "name", None)
    if isinstance(name, str) and (hasattr(value, "read") or hasattr(value, "write")):  # argparse.FileType
        return name
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _overrides():
    """`tmt rerun --set` values the command line could not carry: {name: {raw, value}}."""
    wanted = _header().get("set")
    return wanted if isinstance(wanted, dict) else {}


def _report(source, values, applied):
    _send({"e": "params", "source": source, "values": dict((str(k), _safe(v)) for k, v in values.items()),
           "applied": applied})


# -- argparse ------------------------------------------------------------------------------------


def _patch_argparse(argparse):
    original = argparse.ArgumentParser.parse_known_args
    if getattr(original, "_tmt", False):
        return

    def parse_known_args(self, args=None, namespace=None):
        depth = getattr(_state, "depth", 0)
        _state.depth = depth + 1
        try:
            result = original(self, args, namespace)
        finally:
            _state.depth = depth
        if depth == 0:  # a subparser's parse is part of its parent's: reported with it
            try:
                _after_argparse(self, result[0])
            except Exception:
                pass
        return result

    parse_known_args._tmt = True
    argparse.ArgumentParser.parse_known_args = parse_known_args


def _after_argparse(parser, namespace):
    actions = list(getattr(parser, "_actions", ()))
    if any("--hydra-help" in a.option_strings for a in actions):
        return  # Hydra's own parser: its overrides are read from the command line
    applied = []
    for name, wanted in _overrides().items():
        if not hasattr(namespace, name) or not isinstance(wanted, dict):
            continue
        value = wanted.get("value")
        action = next((a for a in actions if a.dest == name), None)
        convert = getattr(action, "type", None)
        if callable(convert) and isinstance(wanted.get("raw"), str):
            try:
                value = convert(wanted["raw"])
            except Exception:
                pass
        setattr(namespace, name, value)
        applied.append(name)
    values = dict((k, v) for k, v in vars(namespace).items() if not k.startswith("_"))
    if values or applied:
        _report("argparse", values, applied)


# -- click ---------------------------------------------------------------------------------------


def _patch_click(core):
    original = core.Command.make_context
    if getattr(original, "_tmt", False):
        return

    def make_context(self, info_name, args, parent=None, **extra):
        ctx = original(self, info_name, args, parent=parent, **extra)
        try:
            _after_click(self, ctx)
        except Exception:
            pass
        return ctx

    make_context._tmt = True
    core.Command.make_context = make_context


def _after_click(command, ctx):
    applied = []
    for name, wanted in _overrides().items():
        if name not in ctx.params or not isinstance(wanted, dict):
            continue
        value = wanted.get("value")
        param = next((p for p in command.params if p.name == name), None)
        if param is not None and isinstance(wanted.get("raw"), str):
            try:
                value = param.type_cast_value(ctx, wanted["raw"])
            except Exception:
                pass
        ctx.params[name] = value
        applied.append(name)
    if ctx.params or applied:
        _report("click", ctx.params, applied)


# -- the import hook -----------------------------------------------------------------------------

_PATCHES = {"argparse": _patch_argparse, "click.core": _patch_click}


class _PostImport(object):
    """A meta-path finder that finds nothing itself: for the modules in _PATCHES it asks the
    other finders, then wraps the loader's exec_module so the patch runs right after the
    module's own code."""

    def find_spec(self, name, path=None, target=None):
        patch = _PATCHES.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        original = getattr(loader, "exec_module", None)
        if original is None:
            return spec

        def exec_module(module):
            original(module)
            try:
                patch(module)
            except Exception:
                pass

        try:
            loader.exec_module = exec_module
        except Exception:
            return spec
        return spec


def _install():
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    sys.meta_path.insert(0, _PostImport())
    # Which Python this is (tmt keeps the command's own, by its pid). Written by hand: json
    # costs a millisecond at the start of every Python process of the command.
    v = sys.version_info
    level = "" if v.releaselevel == "final" else v.releaselevel[0] + str(v.serial)
    name = "".join(c for c in sys.implementation.name if c.isalnum())
    _append(('{"e":"python","python":"%d.%d.%d%s","implementation":"%s","pid":%d}\n'
             % (v.major, v.minor, v.micro, level, name, os.getpid())).encode("ascii"))


def _chain():
    """Import the sitecustomize this one hides (the environment's own), as Python would."""
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    me = sys.modules.pop("sitecustomize", None)
    try:
        import importlib

        importlib.import_module("sitecustomize")
    except ImportError as e:
        if getattr(e, "name", None) != "sitecustomize":
            raise
        if me is not None:
            sys.modules["sitecustomize"] = me


try:
    if os.environ.get("TMT_RUN_ID"):
        _install()
except Exception:
    pass
_chain()
