"""Reading exported files back in tests (members and ledger exports)."""

import csv
import io

import openpyxl


def csv_rows(data: bytes) -> list[list[str]]:
    """The rows of an exported CSV; it must start with a UTF-8 BOM."""
    assert data.startswith(b"\xef\xbb\xbf"), "the CSV starts with a BOM so that Excel reads it as UTF-8"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def csv_dicts(data: bytes) -> list[dict[str, str]]:
    header, *rows = csv_rows(data)
    return [dict(zip(header, row, strict=True)) for row in rows]


def xlsx_sheet(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data)).active


def xlsx_dicts(data: bytes) -> list[dict]:
    rows = list(xlsx_sheet(data).iter_rows(values_only=True))
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


def streamed(response) -> bytes:
    assert response.streaming, "exports are streamed, never built in memory"
    return b"".join(response.streaming_content)
