"""An application's histories from an Excel workbook (one sheet per raw table) or CSV files (one per table):
every cell read by its contract column's kind, every problem kept with its sheet, row, column, what was
expected and what came. The template workbook is made here too.

Rows are numbered as the spreadsheet shows them (the header is row 1). Headers may be the contract's column
names or their Spanish names (``ingresos``, ``fecha_vencimiento``, ...); accents, case and spaces do not matter.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from pymescore.contracts import TABLES
from pymescore.service._schemas import MAX_HISTORY_ROWS, BureauIn, CashflowIn, FirmIn, PaymentIn, StatementIn

SHEETS = ("firms", "monthly_cashflows", "financial_statements", "payments", "bureau_ratings")
MODELS: dict[str, type[BaseModel]] = {"firms": FirmIn, "monthly_cashflows": CashflowIn,
                                      "financial_statements": StatementIn, "payments": PaymentIn,
                                      "bureau_ratings": BureauIn}  # fmt: skip
SHEET_ALIASES = {"empresa": "firms", "empresas": "firms", "flujos_mensuales": "monthly_cashflows",
                 "flujo_de_caja": "monthly_cashflows", "estados_financieros": "financial_statements",
                 "pagos": "payments", "calificaciones_sbs": "bureau_ratings",
                 "central_de_riesgos": "bureau_ratings"}  # fmt: skip
#: Spanish headers of the contract's columns
SPANISH = {
    "razon_social": "name", "nombre": "name", "fecha_inicio": "start_date", "inicio_actividades": "start_date",
    "estado_contribuyente": "taxpayer_state", "condicion_domicilio": "domicile_condition", "mes": "month",
    "moneda": "currency", "ingresos": "income", "gastos": "expenses", "egresos": "expenses",
    "fin_periodo": "period_end", "fecha_cierre": "period_end", "activo_total": "total_assets",
    "pasivo_total": "total_liabilities", "patrimonio": "equity", "ventas": "revenue", "costo_ventas": "cost_of_sales",
    "costo_de_ventas": "cost_of_sales", "utilidad_neta": "net_income", "id_prestamo": "loan_id",
    "prestamo": "loan_id", "fecha_vencimiento": "due_date", "fecha_pago": "paid_date", "monto_cuota": "amount_due",
    "monto_debido": "amount_due", "monto_pagado": "amount_paid", "fecha_desembolso": "disbursement_date",
    "calificacion_sbs": "sbs_rating", "deuda_total": "debt_total", "numero_entidades": "n_lenders",
    "n_entidades": "n_lenders",
}  # fmt: skip
#: what a cell of each contract kind must hold, in Spanish and English
EXPECTED = {
    "float": ("un número", "a number"), "int": ("un número entero", "a whole number"),
    "date": ("una fecha (AAAA-MM-DD o DD/MM/AAAA)", "a date (YYYY-MM-DD or DD/MM/YYYY)"),
    "month": ("un mes (AAAA-MM)", "a month (YYYY-MM)"), "str": ("un texto", "a text"),
    "code": ("un código de dígitos", "a code of digits"),
}  # fmt: skip


@dataclass(frozen=True)
class Problem:
    sheet: str
    row: int | str  # the spreadsheet's row number; "-" for the whole sheet or file
    column: str
    expected: str
    got: str


@dataclass
class Histories:
    """What the upload held: the firm's fields, each table's records, and the problems found."""

    firm: dict[str, Any] | None = None
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rows: dict[str, list[int]] = field(default_factory=dict)  # each record's spreadsheet row
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # contract column -> header as written
    problems: list[Problem] = field(default_factory=list)


def normal(name: str) -> str:
    plain = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().strip().lower()
    return "_".join(plain.replace("-", " ").replace(".", " ").split())


def _shown(value: Any) -> str:
    if value is None:
        return "(vacía / empty)"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)[:80]


def _cell(kind: str, width: int | None, value: Any) -> Any:
    """A spreadsheet cell as the request schema reads it (None: empty)."""
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    if value is None:
        return None
    if kind == "month":
        if isinstance(value, dt.date):
            return f"{value.year:04d}-{value.month:02d}"
        return str(value)
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, str) and value.count("/") == 2:
            day, month, year = value.split("/")
            if day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4:
                return f"{year}-{int(month):02d}-{int(day):02d}"
        return value
    if kind == "code" and isinstance(value, int | float) and float(value).is_integer():
        text = str(int(value))
        return text.zfill(width) if width and len(text) < width else text
    if kind in ("str", "code") and not isinstance(value, str):
        return str(value)
    if kind in ("float", "int") and isinstance(value, str):  # a CSV cell: the API takes numbers strictly
        number = number_of(value)
        return value if number is None else number
    return value


def number_of(text: str) -> float | int | None:
    """A spreadsheet's number written as text (``1234.5``, ``1,234.5``, ``1234,5``); None when it is none."""
    t = text.replace(" ", "")
    if "," in t and "." in t:
        t = t.replace(",", "")  # thousands separators
    elif t.count(",") == 1:
        t = t.replace(",", ".")  # a decimal comma
    try:
        x = float(t)
    except ValueError:
        return None
    return int(x) if x.is_integer() and "." not in t and "e" not in t.lower() else x


def read_upload(ruc: str, files: list[tuple[str, bytes]], lang: str = "es") -> Histories:
    """The histories of ``files`` (one ``.xlsx`` workbook, or ``.csv`` files named after the tables)."""
    out = Histories()
    sheets: dict[str, list[list[Any]]] = {}
    for filename, data in files:
        lower = filename.lower()
        if lower.endswith(".xlsx"):
            sheets.update(_xlsx(filename, data, out))
        elif lower.endswith(".csv"):
            sheets[filename.rsplit("/", 1)[-1][:-4]] = _csv(filename, data, out)
        else:
            es = "un libro .xlsx o archivos .csv"
            out.problems.append(Problem(filename, "-", "-", es if lang == "es" else "an .xlsx workbook or .csv files",
                                        filename.rsplit(".", 1)[-1][:20]))  # fmt: skip
    for name, rows in sheets.items():
        table = SHEET_ALIASES.get(normal(name), normal(name))
        if table not in SHEETS:
            out.problems.append(Problem(name, "-", "-", ("una hoja llamada " if lang == "es" else "a sheet named ")
                                        + ", ".join(SHEETS), name))  # fmt: skip
            continue
        _read_table(ruc, name, table, rows, out, lang)
    if not sheets and not out.problems:
        out.problems.append(Problem("-", "-", "-", "al menos una hoja" if lang == "es" else "at least one sheet",
                                    "ninguna / none"))  # fmt: skip
    return out


def _xlsx(filename: str, data: bytes, out: Histories) -> dict[str, list[list[Any]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError) as exc:
        out.problems.append(Problem(filename, "-", "-", "un libro de Excel (.xlsx) / an Excel workbook (.xlsx)",
                                    type(exc).__name__))  # fmt: skip
        return {}
    try:
        return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}
    finally:
        book.close()


def _csv(filename: str, data: bytes, out: Histories) -> list[list[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _read_table(ruc: str, sheet: str, table: str, rows: list[list[Any]], out: Histories, lang: str) -> None:
    contract = TABLES[table]
    model = MODELS[table]
    en = lang == "en"
    while rows and all(v is None or str(v).strip() == "" for v in rows[-1]):
        rows.pop()
    if not rows:
        return
    known = set(contract.column_names)
    columns: dict[int, str] = {}
    out.headers[table] = {}
    for j, header in enumerate(rows[0]):
        if header is None or str(header).strip() == "":
            continue
        name = SPANISH.get(normal(header), normal(header))
        if name not in known:
            expected = ("una columna del contrato: " if not en else "a column of the contract: ") + ", ".join(
                contract.column_names
            )
            out.problems.append(Problem(sheet, 1, str(header), expected, str(header)))
            continue
        columns[j] = name
        out.headers[table][name] = str(header)
    required = [f for f, info in model.model_fields.items() if info.is_required()]
    for name in required:
        if name not in columns.values():
            out.problems.append(Problem(sheet, 1, name, ("la columna " if not en else "the column ") + name,
                                        "(falta / missing)"))  # fmt: skip
    if any(p.sheet == sheet and p.row == 1 and p.got == "(falta / missing)" for p in out.problems):
        return
    body = rows[1:]
    if len(body) > MAX_HISTORY_ROWS:
        out.problems.append(Problem(sheet, "-", "-", f"≤ {MAX_HISTORY_ROWS} filas / rows", str(len(body))))
        return
    records, numbers = [], []
    for i, raw in enumerate(body, start=2):
        if all(v is None or str(v).strip() == "" for v in raw):
            continue  # an empty row: nothing to lose
        record: dict[str, Any] = {}
        given: dict[str, Any] = {}
        for j, name in columns.items():
            value = raw[j] if j < len(raw) else None
            col = contract.column(name)
            given[name] = value
            cell = _cell(col.kind, col.width, value)
            if name == "ruc":
                if cell is not None and str(cell) != ruc:
                    out.problems.append(Problem(sheet, i, out.headers[table][name],
                                                ("el RUC de la solicitud " if not en else "the application's RUC ")
                                                + ruc, _shown(value)))  # fmt: skip
                continue
            if cell is not None:
                record[name] = cell
        try:
            parsed = model.model_validate(record)
        except ValidationError as exc:
            for e in exc.errors():
                name = str(e["loc"][0]) if e["loc"] else "-"
                kind = contract.column(name).kind if name in known else "str"
                why = EXPECTED.get(kind, ("un valor válido", "a valid value"))[1 if en else 0]
                if e["type"] == "missing":
                    why = ("un valor (la celda está vacía)", "a value (the cell is empty)")[1 if en else 0]
                elif e["type"] in ("greater_than_equal", "less_than_equal", "finite_number", "string_too_long"):
                    why = f"{why} ({e['msg']})"
                out.problems.append(Problem(sheet, i, out.headers[table].get(name, name), why,
                                            _shown(given.get(name))))  # fmt: skip
            continue
        records.append(parsed.model_dump(exclude_none=table == "firms"))
        numbers.append(i)
    if table == "firms":
        if len(records) > 1:
            out.problems.append(Problem(sheet, numbers[1], "-", "una sola fila: la empresa" if not en else
                                        "one row: the firm", f"{len(records)} filas / rows"))  # fmt: skip
        out.firm = records[0] if records else None
        out.rows[table] = numbers[:1]
        return
    out.tables[table] = records
    out.rows[table] = numbers


def template_workbook() -> bytes:
    """The template: one sheet per raw table, the contract's column names in the first row, an example row."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    examples: dict[str, list[Any]] = {
        "firms": ["20100070970", "Bodega Ejemplo SAC", "4711", "150101", dt.date(2015, 3, 1), "ACTIVO", "HABIDO"],
        "monthly_cashflows": ["20100070970", "2024-11", "PEN", 42000, 35500],
        "financial_statements": ["20100070970", dt.date(2023, 12, 31), "PEN", 250000, 120000, 130000, 480000,
                                 350000, 28000],
        "payments": ["20100070970", "L-1", dt.date(2024, 11, 15), dt.date(2024, 11, 14), 2500, 2500, "PEN",
                     dt.date(2024, 1, 15)],
        "bureau_ratings": ["20100070970", "2024-11", 0, 60000, 2],
    }  # fmt: skip
    book = Workbook()
    book.remove(book.active)
    for name in SHEETS:
        ws = book.create_sheet(name)
        ws.append(list(TABLES[name].column_names))
        ws.append(examples[name])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for k, col in enumerate(TABLES[name].columns):
            ws.column_dimensions[chr(ord("A") + k)].width = 18
            if col.kind == "date":
                for cell in ws[chr(ord("A") + k)][1:]:
                    cell.number_format = "yyyy-mm-dd"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
