"""The ``pymescore`` command line: one thin module per command, wired here.

Errors that pymescore raises on purpose end the command with exit code 2 and a one-line message on
stderr (what was expected, what came, how to fix it); never a stack trace.
"""

from __future__ import annotations

import logging
import sys

import typer

from pymescore.errors import PymescoreError

app = typer.Typer(
    name="pymescore",
    help="Credit risk scoring for Peruvian SMEs (PYMEs) from their operational data.\n\n"
    "The whole job on simulated data: `make demo`. Step by step:\n\n"
    "    pymescore simulate --firms 5000 --months 48 --seed 7 --out sim/\n\n"
    "    pymescore ingest-folder sim/ --lake lake/\n\n"
    "    pymescore lake summary --lake lake/\n\n"
    "    pymescore features --lake lake/ --as-of 2023-06-30,2023-09-30,2023-12-31,2024-12-31 "
    "--out snapshot.parquet\n\n"
    "    pymescore train --table snapshot.parquet --target default_12m --out bundle/\n\n"
    "    pymescore serve --bundle bundle/\n\n"
    "Every command has --help with an example; errors end with exit code 2 and say what to fix.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _register() -> None:
    from pymescore.cli import (
        _audit,
        _contracts,
        _export,
        _features,
        _gate,
        _ingest,
        _lake,
        _model,
        _model_risk,
        _monitor,
        _policy_sim,
        _portfolio,
        _rates,
        _score,
        _serve,
        _sign,
        _simulate,
        _train,
        _users,
    )  # fmt: skip

    for module in (
        _simulate,
        _ingest,
        _rates,
        _lake,
        _features,
        _train,
        _model,
        _score,
        _export,
        _sign,
        _gate,
        _contracts,
        _serve,
        _monitor,
        _portfolio,
        _policy_sim,
        _model_risk,
        _users,
        _audit,
    ):
        module.register(app)
    from pymescore.cli._lineage import instrument

    instrument(app)  # OpenLineage run events of the commands that move data


def _settings_error(exc: Exception) -> bool:
    """A pydantic ``ValidationError`` (pydantic is imported only by the commands that read settings, so a
    validation error can only come when it is already loaded; ``--help`` never imports it)."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(exc, pydantic.ValidationError)


def main() -> None:
    """Entry point of the ``pymescore`` script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _register()
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code instead of exiting
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except PymescoreError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except OSError as exc:  # a path that cannot be read or written, a full disk: the user's to fix, not a bug
        if isinstance(exc, ConnectionError):  # a closed pipe or a refused connection is not a path problem
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        why = exc.strerror or str(exc)
        print(f"error [IO_ERROR]: {where}expected a file or folder that can be read or written, got {why}; "
              "check the path, its permissions and the free disk space", file=sys.stderr)  # fmt: skip
        sys.exit(2)
    except Exception as exc:
        if _settings_error(exc):  # settings from PYMESCORE_* variables or pymescore.toml
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}, got {e.get('input')!r}"
                for e in exc.errors()  # type: ignore[attr-defined]
            )
            print(f"error [CONFIG_INVALID]: settings (PYMESCORE_* or pymescore.toml): {problems}", file=sys.stderr)
            sys.exit(2)
        # usage errors (typer bundles its own click): they know how to show themselves and their exit code
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise
