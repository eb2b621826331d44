"""The downloadable template of a members file: the Chinese headers and one example row."""

import csv
import io

from members.resources import import_columns
from stores.models import Store

EXAMPLE = {
    "phone": "13800138000",
    "name": "王芳",
    "gender": "女",
    "birthday": "1990-05-21",
    "email": "wangfang@example.com",
    "address": "上海市徐汇区漕溪北路88号",
    "notes": "",
    "tags": "VIP,宝妈",
    "registered_at": "2023-01-15 10:30:00",
    "referrer": "",
    "points_balance": "500",
    "stored_value_balance": "100.00",
}


# The issue's order (what chains' previous systems export), then the rarer columns.
ORDER = [
    "phone",
    "name",
    "gender",
    "birthday",
    "email",
    "home_store",
    "tags",
    "registered_at",
    "points_balance",
    "stored_value_balance",
    "referrer",
    "address",
    "notes",
]


def template_csv() -> bytes:
    """UTF-8 with a byte-order mark, so that Excel opens the Chinese headers right."""
    columns = sorted(import_columns(), key=lambda c: ORDER.index(c.key) if c.key in ORDER else len(ORDER))
    store = Store.objects.filter(is_active=True).order_by("code").values_list("code", flat=True).first()
    example = {**EXAMPLE, "home_store": store or "SH001"}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([column.header for column in columns])
    writer.writerow([example.get(column.key, "") for column in columns])
    return out.getvalue().encode("utf-8-sig")
