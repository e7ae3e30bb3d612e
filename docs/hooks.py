"""mkdocs hooks: the parts of the docs that are generated from the code at build time.

Written by hand, a message table or a command's help drifts from the code the day a field
or a flag changes. So the pages hold markers, and this module replaces each one with what
the installed ``sagalog`` says when the site is built:

- ``<!-- messages: sagalog.events.orders -->``: a table of the module's message types
  (registered name, version, event or command, fields with their types and defaults, what
  each means), then a table of the data shapes those messages carry;
- ``<!-- cli-reference -->``: every command of ``sagalog``, walked from the parser
  (``sagalog.cli.parser``): usage, description, options and epilog, as ``--help`` prints them;
- ``<!-- include: CHANGELOG.md -->``: a file of the repository's root, its links to
  ``docs/...`` made relative to the docs (so one file reads right on GitHub and on the site).

It also turns the Sphinx roles some docstrings use (``:class:`events.Message```) into
links to the API reference (or plain code when the name is not documented there).

Hazard: mkdocs imports this file by path, not as part of a package; it must import only
the standard library, ``sagalog`` and ``pydantic`` (which sagalog brings).
"""

from __future__ import annotations

import argparse
import ast
import html
import importlib
import inspect
import itertools
import os
import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

MESSAGES = re.compile(r"<!--\s*messages:\s*([\w.]+)\s*-->")
"""The marker a workflow page puts where its message tables go."""

CLI = re.compile(r"<!--\s*cli-reference\s*-->")
"""The marker the CLI reference page puts where every command's help goes."""

INCLUDE = re.compile(r"<!--\s*include:\s*([\w.-]+)\s*-->")
"""The marker a page puts where a file of the repository's root goes."""

ROOT = Path(__file__).resolve().parent.parent
"""The repository's root (this file is ``docs/hooks.py``)."""

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):<code>~?([^<]+)</code>")
"""A Sphinx role as it comes out of a rendered docstring."""

ROLE_SOURCE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`~?([^`]+)`|``([^`]+)``")
"""A Sphinx role or a literal in a docstring's source, for the tables built from docstrings."""

PACKAGES = ("events.", "store.", "actors.", "sagas.")
"""Docstrings name sagalog's modules without the ``sagalog.`` prefix."""

HELP_WIDTH = "100"
"""Columns the CLI help is wrapped to, so the page does not depend on the builder's terminal."""


def on_page_markdown(markdown: str, **_: Any) -> str:  # noqa: ANN401 - mkdocs passes page, config, files
    """Replace the markers of a page with the tables and help generated from the code."""
    markdown = INCLUDE.sub(lambda match: included(match.group(1)), markdown)
    markdown = MESSAGES.sub(lambda match: message_tables(match.group(1)), markdown)
    return CLI.sub(lambda _match: cli_reference(), markdown)


def on_page_content(html_text: str, **_: Any) -> str:  # noqa: ANN401 - mkdocs passes page, config, files
    """Turn the Sphinx roles of rendered docstrings into optional cross-references."""
    return ROLE.sub(_reference, html_text)


def _reference(match: re.Match[str]) -> str:
    name = html.unescape(match.group(1)).strip()
    identifier = "sagalog." + name if name.startswith(PACKAGES) else name
    shown = html.escape(name)
    if not identifier.startswith("sagalog."):
        return f"<code>{shown}</code>"
    # autorefs resolves this after every page is rendered; "optional" leaves a name that
    # the API reference does not document as plain code instead of failing the build.
    return (f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{shown}</code></autoref>")


def included(name: str) -> str:
    """The root's file ``name``, with its links into ``docs/`` made relative to the docs."""
    text = (ROOT / name).read_text(encoding="utf-8")
    return re.sub(r"\]\(docs/", "](", text)


# --- message tables -------------------------------------------------------------------


def message_tables(module_name: str) -> str:
    """The message types of ``module_name`` and the data shapes they carry, as HTML tables."""
    module = importlib.import_module(module_name)
    docs = _field_docs(module)
    models = [value for value in vars(module).values()
              if isinstance(value, type) and issubclass(value, BaseModel)
              and value.__module__ == module.__name__]  # definition order: the flow's order
    messages = [model for model in models if _registered(model)]
    shapes = [model for model in models
              if not _registered(model) and not model.__name__.startswith("_")
              and not _is_abstract_message(model)]
    if not messages:
        msg = f"{module_name}: no registered message type (is it the right module?)"
        raise ValueError(msg)
    shape_names = {shape.__name__ for shape in shapes}
    rows = [_message_row(model, docs, shape_names) for model in messages]
    parts = [
        f"<p>{len(messages)} message types, generated from <code>{module_name}</code>.</p>",
        _table(("Type", "Version", "Kind", "Fields", "Meaning"), rows),
    ]
    if shapes:
        parts.append("<p>The data shapes these messages carry:</p>")
        parts.append(_table(("Shape", "Fields", "Meaning"),
                            [_shape_row(shape, docs, shape_names) for shape in shapes]))
    return "\n\n" + "\n\n".join(parts) + "\n\n"


def _registered(model: type[BaseModel]) -> bool:
    """A message class registered under a name (its own ``message_type``; bases have none)."""
    return "message_type" in vars(model)


def _is_abstract_message(model: type[BaseModel]) -> bool:
    pending = vars(model).get("__sagalog_pending__")
    return pending is not None and pending[2] is True


def _message_row(model: type[BaseModel], docs: dict[tuple[str, str], str],
                 shapes: set[str]) -> list[str]:
    name = str(model.message_type)  # type: ignore[attr-defined]
    shown = f"<code>{html.escape(name)}</code>"
    if name != model.__name__:
        shown += f"<br><small>class <code>{html.escape(model.__name__)}</code></small>"
    return [shown, str(model.message_version),  # type: ignore[attr-defined]
            html.escape(str(model.message_kind)),  # type: ignore[attr-defined]
            _fields(model, docs, shapes), _prose(_summary(model))]


def _shape_row(model: type[BaseModel], docs: dict[tuple[str, str], str],
               shapes: set[str]) -> list[str]:
    anchor = f'<a id="shape-{model.__name__.lower()}"></a>'
    return [f"{anchor}<code>{html.escape(model.__name__)}</code>",
            _fields(model, docs, shapes), _prose(_summary(model))]


def _prose(text: str) -> str:
    """Docstring text as HTML: escaped, its roles and literals as code."""
    return ROLE_SOURCE.sub(lambda match: f"<code>{match.group(1) or match.group(2)}</code>",
                           html.escape(text, quote=False))


def _summary(model: type) -> str:
    doc = inspect.getdoc(model) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def _fields(model: type[BaseModel], docs: dict[tuple[str, str], str], shapes: set[str]) -> str:
    lines = []
    for name, info in model.model_fields.items():
        text = f"<code>{html.escape(name)}</code>: {type_html(info.annotation, shapes)}"
        if not info.is_required():
            default = ("(a new one)" if info.default_factory is not None
                       else html.escape(repr(info.default)))
            text += f" = <code>{default}</code>"
        note = _doc_of(model, name, docs)
        if note:
            text += f"<br><small>{_prose(note)}</small>"
        lines.append(text)
    return "<br>".join(lines) or "<em>(none)</em>"


def _doc_of(model: type, field: str, docs: dict[tuple[str, str], str]) -> str:
    for cls in model.__mro__:  # a field documented on a shared base counts for each message
        note = docs.get((cls.__name__, field))
        if note:
            return note
    return ""


def _field_docs(module: types.ModuleType) -> dict[tuple[str, str], str]:
    """(class, field) -> the field's docstring: the string written after its annotation."""
    tree = ast.parse(inspect.getsource(module))
    found: dict[tuple[str, str], str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        body = node.body
        for statement, following in itertools.pairwise(body):
            if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                    and isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)):
                first = inspect.cleandoc(following.value.value).split("\n\n")[0]
                found[(node.name, statement.target.id)] = first.replace("\n", " ")
    return found


def type_html(annotation: object, shapes: set[str]) -> str:
    """A field's type as a reader writes it (``list[Document]``), with links to shapes."""
    return f"<code>{_type_text(annotation, shapes)}</code>"


def _type_text(annotation: object, shapes: set[str]) -> str:  # noqa: PLR0911 - one case per kind
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None) or annotation is None:
        return "None"
    if annotation is Any:
        return "Any"
    if origin is typing.Annotated:
        return _type_text(arguments[0], shapes)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(html.escape(repr(value)) for value in arguments) + "]"
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(_type_text(argument, shapes) for argument in arguments)
    if origin is not None:
        inner = ", ".join("..." if argument is Ellipsis else _type_text(argument, shapes)
                          for argument in arguments)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if isinstance(annotation, type):
        name = annotation.__name__
        if name in shapes:
            return f'<a href="#shape-{name.lower()}">{name}</a>'
        return name
    return html.escape(str(annotation).replace("typing.", ""))


def _table(headers: tuple[str, ...], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{header}</th>" for header in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                     for row in rows)
    return (f'<div class="sagalog-messages"><table>\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody>\n</table></div>")


# --- the CLI reference ------------------------------------------------------------------


def cli_reference() -> str:
    """Every command of the parser: a heading, its one-line help, then its ``--help``."""
    from sagalog import cli  # noqa: PLC0415 - imported when a page asks, not at mkdocs start

    built = cli.parser
    top = built if isinstance(built, argparse.ArgumentParser) else built()
    sections: list[str] = []
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH  # argparse wraps to the terminal's width
    try:
        _describe(top, top.prog, "", 2, sections)  # the commands' headings are level 2 too
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return "\n\n".join(sections) + "\n"


def _describe(parser: argparse.ArgumentParser, name: str, summary: str, level: int,
              sections: list[str]) -> None:
    heading = "#" * level + f" `{name}`"
    lines = [heading, ""]
    if summary:
        lines += [summary[0].upper() + summary[1:] + ("" if summary.endswith(".") else "."), ""]
    lines += ["```text", parser.format_help().rstrip(), "```"]
    sections.append("\n".join(lines))
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its subcommands only here
        if not isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}  # noqa: SLF001
        for sub_name, sub_parser in action.choices.items():
            _describe(sub_parser, f"{name} {sub_name}", helps.get(sub_name, ""),
                      level + 1 if " " in name else level, sections)
