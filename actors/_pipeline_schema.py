"""Checking one source file against its schema: columns, types, required values.

The schemas file maps each source to its file and columns::

    {"tables": {"orders": {"file": "orders.csv",
                           "columns": {"id": {"type": "int"},
                                       "note": {"type": "str", "required": false}}}}}

Types are ``str``, ``int``, ``float``, ``bool`` and ``date`` (ISO ``YYYY-MM-DD``); a
column is required unless it says ``"required": false``. Sources are CSV (header row)
or JSON (a list of objects). A source's rows come back as plain JSON values, typed.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

__all__ = ["Check", "ColumnSpec", "SchemaFileError", "TableSpec", "check_source", "read_schemas"]

_TYPES = ("str", "int", "float", "bool", "date")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class SchemaFileError(ValueError):
    """The schemas file itself is wrong; the message names the file and the place."""


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column: its type and whether every row must have a value."""

    type: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One source: its file (relative to the source directory) and its columns."""

    name: str
    file: str
    columns: dict[str, ColumnSpec]


@dataclass(slots=True)
class Check:
    """What checking one source found."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(error type, message) pairs; any error fails the source."""
    warnings: list[str] = field(default_factory=list)
    """Things that do not fail it (a column the schema does not name, dropped)."""


def read_schemas(path: Path) -> list[TableSpec]:
    """The sources the schemas file names, in its order.

    Raises:
        SchemaFileError: the file is missing, not JSON, or not shaped as above.

    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SchemaFileError(f"{path}: cannot read the schemas ({error})") from None
    tables = raw.get("tables") if isinstance(raw, dict) else None
    if not isinstance(tables, dict) or not tables:
        raise SchemaFileError(f"{path}: needs a non-empty object under 'tables'")
    return [_table(path, name, spec) for name, spec in tables.items()]


def _table(path: Path, name: str, spec: object) -> TableSpec:
    where = f"{path}: tables.{name}"
    if not isinstance(spec, dict) or not isinstance(spec.get("file"), str):
        raise SchemaFileError(f"{where}: needs a 'file' string")
    columns = spec.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise SchemaFileError(f"{where}: needs a non-empty 'columns' object")
    parsed: dict[str, ColumnSpec] = {}
    for column, options in columns.items():
        kind = options.get("type") if isinstance(options, dict) else None
        if kind not in _TYPES:
            raise SchemaFileError(f"{where}.columns.{column}: 'type' must be one of {_TYPES}")
        parsed[column] = ColumnSpec(kind, bool(options.get("required", True)))
    return TableSpec(name, spec["file"], parsed)


def check_source(spec: TableSpec, data: bytes) -> Check:
    """Parse ``data`` (the source's bytes) and check every row against ``spec``."""
    check = Check()
    try:
        header, records = _parse(spec.file, data)
    except (ValueError, UnicodeDecodeError, csv.Error) as error:
        check.errors.append(("PARSE_ERROR", f"{spec.file}: {error}"))
        return check
    missing = [name for name, column in spec.columns.items()
               if column.required and name not in header]
    if missing:
        check.errors.append(("MISSING_COLUMN", f"{spec.file}: no column {', '.join(missing)}"))
        return check
    extra = [name for name in header if name not in spec.columns]
    if extra:
        check.warnings.append(f"{spec.file}: columns not in the schema, dropped: "
                              f"{', '.join(extra)}")
    for number, record in enumerate(records, 1):
        row: dict[str, Any] = {}
        for name, column in spec.columns.items():
            value, problem = _convert(record.get(name), column)
            if problem:
                kind = "MISSING_VALUE" if problem == "missing" else "TYPE_MISMATCH"
                check.errors.append((kind, f"{spec.file} row {number}, column {name}: {problem}"))
            row[name] = value
        check.rows.append(row)
    return check


def _parse(file: str, data: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    text = data.decode("utf-8-sig")
    if file.lower().endswith(".json"):
        records = json.loads(text)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ValueError("a JSON source must be a list of objects")
        header = list(dict.fromkeys(key for record in records for key in record))
        return header, records
    reader = csv.DictReader(io.StringIO(text, newline=""))
    records = list(reader)
    return list(reader.fieldnames or []), records


def _convert(value: object, column: ColumnSpec) -> tuple[object, str]:
    """The value as the column's type, or (None, what is wrong)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "missing" if column.required else ""
    try:
        return _CONVERTERS[column.type](value), ""
    except (ValueError, TypeError):
        return None, f"{value!r} is not of type {column.type}"


def _to_int(value: object) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    if isinstance(value, int | float):
        return int(value)
    return int(str(value).strip())


def _to_float(value: object) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    return float(value)  # type: ignore[arg-type]


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(value)


def _to_date(value: object) -> str:
    return date.fromisoformat(str(value).strip()).isoformat()


def _to_str(value: object) -> str:
    if isinstance(value, dict | list):
        raise TypeError(value)
    return str(value)


_CONVERTERS = {"str": _to_str, "int": _to_int, "float": _to_float, "bool": _to_bool,
               "date": _to_date}
