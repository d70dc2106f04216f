"""A Griffe extension (``mkdocs.yml``: mkdocstrings' ``extensions``): the docstrings' doctest examples (``>>>``
lines and the output under them, up to a blank line) rendered as ``pycon`` code blocks rather than as prose, so
``[0.4, 0.4]`` in an example's output is not read as a Markdown link. The docstrings themselves are unchanged:
``--doctest-modules`` runs them as they are."""

from __future__ import annotations

from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    r"""``text`` with each run of doctest lines fenced as a ``pycon`` block.

    >>> fence_doctests("Adds.\n\n>>> 1 + 1\n2\n\nMore.").splitlines()
    ['Adds.', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'More.']
    """
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if not inside and line.lstrip().startswith(">>>"):
            if out and out[-1].strip():
                out.append("")
            out.append("```pycon")
            inside = True
        elif inside and not line.strip():
            out.append("```")
            inside = False
        out.append(line)
    if inside:
        out.append("```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
