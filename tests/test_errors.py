"""Every error pymescore raises is a ``PymescoreError``: read from the source of every module, not sampled.

The CLI maps ``PymescoreError`` to exit code 2 and a one-line ``error [CODE]: message``; the service maps it to
problem+json. A bare ``ValueError`` or a class outside the hierarchy escapes both as a traceback (a 500 in the
service), so none may be raised. Allowed: a bare ``raise`` (re-raising what an ``except`` caught); a class
of the hierarchy, called or not, with or without ``from``; a call to a pymescore function annotated to return
a class of the hierarchy (``invalid(...)``, ``_bad(...)``); and the few control-flow signals that a framework
defines and expects (``FRAMEWORK_SIGNALS``).
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "pymescore"
ROOT = "PymescoreError"
BUILTIN_EXCEPTIONS = frozenset(
    name for name, obj in vars(builtins).items() if isinstance(obj, type) and issubclass(obj, BaseException)
)
#: raised to steer a framework, not errors of pymescore: typer ends a command with an exit code or reports a
#: usage mistake with click's own exit code 2; optuna prunes a trial
FRAMEWORK_SIGNALS = frozenset({"typer.Exit", "typer.Abort", "typer.BadParameter", "optuna.TrialPruned"})


@dataclass(frozen=True)
class Source:
    path: Path
    tree: ast.Module

    @property
    def name(self) -> str:
        return str(self.path.relative_to(SRC.parent))


def _last(node: ast.expr) -> str:
    """``a.b.C`` -> ``C``; ``C[int]`` -> ``C``."""
    if isinstance(node, ast.Subscript):
        return _last(node.value)
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
        return node.value.rsplit(".", 1)[-1].split("[", 1)[0].strip()
    return ast.unparse(node)


def _sources(root: Path = SRC) -> list[Source]:
    return [Source(p, ast.parse(p.read_text(encoding="utf-8"), str(p))) for p in sorted(root.rglob("*.py"))]


def _classes(sources: list[Source]) -> dict[str, list[tuple[str, list[str]]]]:
    """Class name -> [(where, base names)] for every class defined in the package."""
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for src in sources:
        for node in ast.walk(src.tree):
            if isinstance(node, ast.ClassDef):
                where = f"{src.name}:{node.lineno}"
                out.setdefault(node.name, []).append((where, [_last(b) for b in node.bases]))
    return out


def _closure(classes: dict[str, list[tuple[str, list[str]]]], seeds: set[str]) -> set[str]:
    """Class names that derive, through classes of the package, from one of ``seeds``."""
    found = set(seeds)
    while True:
        more = {name for name, defs in classes.items() if name not in found
                and any(base in found for _, bases in defs for base in bases)}  # fmt: skip
        if not more:
            return found
        found |= more


def _returns(sources: list[Source]) -> dict[str, set[str]]:
    """Function name -> the class names its return annotations name (every definition of that name)."""
    out: dict[str, set[str]] = {}
    for src in sources:
        for node in ast.walk(src.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.setdefault(node.name, set()).add(_last(node.returns) if node.returns is not None else "")
    return out


def foreign_raises(sources: list[Source]) -> list[str]:
    """``raise`` statements whose exception is not shown to be a ``PymescoreError``."""
    classes = _classes(sources)
    hierarchy = _closure(classes, {ROOT}) - BUILTIN_EXCEPTIONS
    returns = _returns(sources)
    out = []
    for src in sources:
        for node in ast.walk(src.tree):
            if not isinstance(node, ast.Raise) or node.exc is None:  # a bare raise re-raises what was caught
                continue
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            dotted, name = ast.unparse(target), _last(target)
            if dotted in FRAMEWORK_SIGNALS:
                continue
            if name in hierarchy and name not in BUILTIN_EXCEPTIONS:
                continue
            if isinstance(node.exc, ast.Call) and returns.get(name) and returns[name] <= hierarchy:
                continue  # a helper that builds the error: invalid(...), _bad(...)
            out.append(f"{src.name}:{node.lineno}: raise {ast.unparse(node.exc)[:80]}")
    return out


def classes_outside(sources: list[Source]) -> list[str]:
    """Exception classes defined in the package that do not derive from ``PymescoreError``."""
    classes = _classes(sources)
    exceptions = _closure(classes, set(BUILTIN_EXCEPTIONS))
    hierarchy = _closure(classes, {ROOT})
    out = []
    for name, defs in sorted(classes.items()):
        for where, bases in defs:
            if name == ROOT:
                continue
            is_exception = any(b in exceptions for b in bases)
            if is_exception and not any(b in hierarchy for b in bases):
                out.append(f"{where}: class {name}({', '.join(bases)})")
    return out


def test_every_raise_is_a_pymescore_error() -> None:
    found = foreign_raises(_sources())
    assert not found, "raise a PymescoreError (errors.py) instead of:\n" + "\n".join(found)


def test_every_exception_class_derives_from_pymescore_error() -> None:
    found = classes_outside(_sources())
    assert not found, "derive these from PymescoreError (or a class of errors.py):\n" + "\n".join(found)


def test_the_root_is_defined_once() -> None:
    defs = _classes(_sources()).get(ROOT, [])
    assert [bases for _, bases in defs] == [["Exception"]], defs


WRONG = """
from pymescore.errors import PymescoreError, ConfigError

class Mine(ValueError): ...
class Deeper(Mine): ...
class Fine(ConfigError): ...
class Both(PymescoreError, KeyError): ...

def build() -> ConfigError:
    return ConfigError("x")

def other() -> ValueError:
    return ValueError("x")

def f(x):
    try:
        pass
    except KeyError:
        raise
    except OSError as exc:
        raise ConfigError("y") from exc
    if x == 1:
        raise ValueError("bare")
    if x == 2:
        raise RuntimeError
    if x == 3:
        raise Mine("m")
    if x == 4:
        raise Fine("ok")
    if x == 5:
        raise build()
    if x == 6:
        raise other()
    if x == 7:
        raise typer.Exit(1)
    if x == 8:
        raise KeyError("k") from None
    if x == 9:
        raise Both("b")
"""


@pytest.fixture
def wrong(tmp_path: Path) -> list[Source]:
    path = tmp_path / "wrong.py"
    path.write_text(WRONG, encoding="utf-8")
    return [Source(path, ast.parse(WRONG)), *[s for s in _sources() if s.path.name == "errors.py"]]


def test_the_walk_catches_what_it_should(wrong: list[Source], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Source, "name", property(lambda self: self.path.name))
    raises = [line.split(": ", 1)[1] for line in foreign_raises(wrong)]
    assert raises == [
        "raise ValueError('bare')",
        "raise RuntimeError",
        "raise Mine('m')",
        "raise other()",
        "raise KeyError('k')",
    ]
    outside = [line.split(": ", 1)[1] for line in classes_outside(wrong)]
    assert outside == ["class Deeper(Mine)", "class Mine(ValueError)"]
