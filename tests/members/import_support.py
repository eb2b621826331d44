"""Helpers of the member import tests: CSV files on disk and the import run on them."""

from pathlib import Path

from members.imports.service import members_import

HEADER_ZH = [
    "手机号",
    "姓名",
    "性别",
    "生日",
    "邮箱",
    "门店编码",
    "标签",
    "注册时间",
    "积分余额",
    "储值余额",
    "推荐人手机号",
]


def write_csv(
    path: Path, rows: list[list[str]], *, header=HEADER_ZH, encoding: str = "utf-8", newline: str = "\r\n"
) -> Path:
    """Rows as Excel writes them: cells with a comma, quote or line break quoted."""

    def cell(value) -> str:
        text = "" if value is None else str(value)
        if any(ch in text for ch in ',"\r\n'):
            return '"' + text.replace('"', '""') + '"'
        return text

    lines = [",".join(cell(c) for c in row) for row in [header, *rows] if row is not None]
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def import_file(path: Path, **options):
    return members_import(open_source=lambda: path.open("rb"), file_name=path.name, **options)


def counts(result) -> dict:
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "rejected": result.rejected,
    }
