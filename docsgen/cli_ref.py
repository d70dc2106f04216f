"""The command-line reference: every command and option, walked from the typer app's click command tree."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any


def root_command() -> Any:
    """The click command behind ``pymescore`` with every command registered (what ``main()`` builds)."""
    import typer

    from pymescore.cli import _register, app

    if not app.registered_commands:
        _register()
    return typer.main.get_command(app)


def walk(command: Any, path: tuple[str, ...] = ("pymescore",)) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Each command as (its words, the click command), the group before its subcommands. Typer bundles its own
    click, so a group is told by its ``commands`` attribute rather than by ``isinstance``."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not getattr(sub, "hidden", False):
            yield from walk(sub, (*path, name))


def command_paths() -> list[str]:
    """Every command's full name (``pymescore features catalog``), the root first."""
    return [" ".join(path) for path, _ in walk(root_command())]


def option_names(command: Any) -> list[str]:
    """Every option's flags of one command (``--lake``, ``--no-serve``, …) and its arguments' names."""
    names: list[str] = []
    for param in command.params:
        if getattr(param, "param_type_name", "") == "argument":
            names.append(_argument_name(param))
        else:
            names.extend([*param.opts, *getattr(param, "secondary_opts", [])])
    return names


def anchor(path: tuple[str, ...]) -> str:
    return "-".join(path)


def _default(param: Any) -> str:
    if getattr(param, "required", False):
        return "required"
    value = param.default
    if callable(value) or value is None or value in ((), "") or getattr(param, "show_default", True) is False:
        return ""
    if isinstance(value, bool) and getattr(param, "secondary_opts", None):
        return str(param.opts[0] if value else param.secondary_opts[0])
    return f"`{value}`"


def _type(param: Any, command: Any) -> str:
    """The type as ``--help`` shows it (``path``, ``int``, ``sql|savedmodel``); typer's click takes a context."""
    if getattr(param, "is_flag", False):
        return "flag"
    display = param.display_type(command.context_class(command))
    return f"`{display.strip('<>')}`" if display else ""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _help(command: Any) -> str:
    """The command's help as Markdown (typer's rich markdown mode: the docstring is Markdown already)."""
    text = inspect.cleandoc(command.help or command.short_help or "")
    return text.split("\f")[0].strip()


def command_section(path: tuple[str, ...], command: Any) -> list[str]:
    depth = min(len(path) + 1, 6)
    lines = [f"{'#' * depth} `{' '.join(path)}` {{#{anchor(path)}}}", ""]
    subcommands = sorted(getattr(command, "commands", {}))
    usage = " ".join(path) + (" COMMAND" if subcommands and not command.params else "")
    if command.params:
        usage += " [OPTIONS]"
    arguments = [p for p in command.params if getattr(p, "param_type_name", "") == "argument"]
    usage += "".join(f" {_argument_name(p)}" for p in arguments)
    lines += ["```text", usage, "```", ""]
    body = _help(command)
    if body:
        lines += [body, ""]
    if subcommands:
        lines += ["Subcommands: " + ", ".join(f"[`{s}`](#{anchor((*path, s))})" for s in subcommands) + ".", ""]
    if command.params:
        lines += ["| option | type | default | meaning |", "|---|---|---|---|"]
        for param in command.params:
            flags = option_names_of(param)
            lines.append(
                f"| {flags} | {_type(param, command)} | {_default(param)} | {_cell(getattr(param, 'help', '') or '')} |"
            )
        lines.append("")
    return lines


def option_names_of(param: Any) -> str:
    if getattr(param, "param_type_name", "") == "argument":
        return f"`{_argument_name(param)}`"
    return " / ".join(f"`{o}`" for o in [*param.opts, *getattr(param, "secondary_opts", [])])


def cli_reference() -> str:
    """The whole command line as one Markdown page."""
    root = root_command()
    commands = list(walk(root))
    lines = [
        "# Command line reference",
        "",
        "Generated from the typer application at build time (`docsgen/cli_ref.py`): every command, every option,",
        "the same text `pymescore COMMAND --help` prints. Machine-readable output is stdout's last line (JSON);",
        "progress and tables go to stderr. Errors end with exit code 2 and a one-line message.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for path, command in commands[1:]:
        first = _help(command).split("\n\n")[0]
        lines.append(f"| [`{' '.join(path)}`](#{anchor(path)}) | {_cell(first)} |")
    lines.append("")
    for path, command in commands:
        lines += command_section(path, command)
    return "\n".join(lines)


def _argument_name(param: Any) -> str:
    return str(param.metavar or param.name).upper()
