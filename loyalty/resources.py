"""The columns of a purchase-history file (import_sales) and the widgets that read its cells.

The widgets are django-import-export widgets with the members import's cell rules (members.resources):
phones, store codes and amounts are read exactly as in a members file. A file has one row per
receipt, or one row per line of a receipt (the receipt's number, phone, store, time and amount on
each of its rows, or on its first row only).
"""

import csv
import io
from datetime import datetime
from decimal import Decimal

from django.utils.translation import gettext as _
from import_export import widgets

from loyalty.services.checkout import MAX_MONEY
from loyalty.services.idempotency import RESERVED_REQUEST_PREFIX
from members.imports.columns import ImportColumn
from members.resources import (
    CellRules,
    MoneyWidget,
    PhoneWidget,
    RegisteredAtWidget,
    StoreCodeWidget,
    TextWidget,
    parse_number,
)
from stores.models import Store

# "import:" + the receipt number is the sale's request id (64 characters at most).
RECEIPT_PREFIX = RESERVED_REQUEST_PREFIX
MAX_RECEIPT_CHARS = 64 - len(RECEIPT_PREFIX)
MAX_QUANTITY = Decimal("100000")
# The category of a receipt's line when the file names none.
UNCATEGORISED = "未分类"


class ReceiptNoWidget(CellRules, widgets.CharWidget):
    def parse(self, text: str) -> str:
        if len(text) > MAX_RECEIPT_CHARS:
            raise ValueError(_("A receipt number has at most %(limit)d characters.") % {"limit": MAX_RECEIPT_CHARS})
        if any(ord(ch) < 32 for ch in text):
            raise ValueError(_("A receipt number cannot hold control characters."))
        return text


class SoldAtWidget(RegisteredAtWidget):
    """2024-03-04 15:20[:00] or a date alone (its local midnight), China time; not in the future."""

    def _check(self, moment: datetime) -> datetime:
        if moment > (self.now or datetime.now(moment.tzinfo)):
            raise ValueError(_("The time of the sale cannot be in the future."))
        if moment.year < 1990:
            raise ValueError(_("Enter a time of sale after 1990."))
        return moment


class SaleAmountWidget(MoneyWidget):
    """What the customer paid for the receipt, in ¥: zero or more, at most two decimals. A receipt of ¥0
    (a free gift, a visit paid wholly by a discount) is a visit all the same: it is imported, earns nothing."""

    def negative_message(self) -> str:
        return _("The amount is below zero (a refund?): import sales only, with what was finally paid.")

    def parse(self, value: str) -> Decimal:
        amount = super().parse(value)
        if amount > MAX_MONEY:
            raise ValueError(_("The amount is too large."))
        return amount


class LineAmountWidget(MoneyWidget):
    def negative_message(self) -> str:
        return _("A line's amount cannot be below zero.")


class QuantityWidget(CellRules, widgets.DecimalWidget):
    """How many of the line's goods: above zero, at most three decimals (kilograms)."""

    def parse(self, value: str) -> Decimal:
        if value.isascii() and value.isdigit() and len(value) <= 5 and value.strip("0"):
            # A count of items, by far the common case: no parsing, no translated messages.
            return Decimal(value)
        number = parse_number(value, what=_("a quantity"), negative=_("A quantity must be above zero."))
        if number <= 0:
            raise ValueError(_("A quantity must be above zero."))
        if number > MAX_QUANTITY:
            raise ValueError(_("At most %(limit)s of one line.") % {"limit": f"{MAX_QUANTITY:,}"})
        if number != number.quantize(Decimal("0.001")):
            raise ValueError(_("“%(value)s” has more than three decimals.") % {"value": value[:30]})
        return number.quantize(Decimal("0.001"))


def sales_columns() -> list[ImportColumn]:
    """The columns of a purchase-history file, in the template's order; fresh widgets each import."""
    return [
        ImportColumn(
            "receipt_no",
            "小票号",
            (
                *("receipt no", "receipt", "receipt number", "order no", "order number", "order id", "ticket no"),
                *("单号", "小票编号", "订单号", "流水号", "销售单号", "消费单号", "交易号", "单据号"),
            ),
            ReceiptNoWidget(),
            required=True,
        ),
        ImportColumn(
            "phone",
            "手机号",
            (
                *("phone", "mobile", "phone number", "member phone", "mobile number", "cellphone", "tel"),
                *("手机", "手机号码", "电话", "会员手机号", "会员手机", "联系电话"),
            ),
            PhoneWidget(),
        ),
        ImportColumn(
            "store",
            "门店编码",
            ("store code", "store", "门店", "门店代码", "门店编号", "消费门店", "销售门店"),
            StoreCodeWidget(),
            sql_type="bigint",
            required=True,
        ),
        ImportColumn(
            "sold_at",
            "消费时间",
            (
                *("time", "sold at", "sale time", "purchase time", "date", "purchase date", "created at"),
                *("时间", "日期", "消费日期", "交易时间", "销售时间", "下单时间", "购买时间"),
            ),
            SoldAtWidget(),
            sql_type="datetime",
            required=True,
        ),
        ImportColumn(
            "amount",
            "实付金额",
            (
                *("amount", "paid", "amount paid", "total", "sale amount"),
                *("金额", "消费金额", "实收金额", "支付金额", "订单金额", "实付", "交易金额"),
            ),
            SaleAmountWidget(),
            sql_type="money",
            required=True,
        ),
        ImportColumn(
            "category",
            "品类",
            ("category", "product category", "类别", "商品类别", "商品分类", "分类", "品类名称"),
            TextWidget(64),
        ),
        ImportColumn(
            "quantity", "数量", ("quantity", "qty", "count", "件数", "商品数量"), QuantityWidget(), sql_type="quantity"
        ),
        ImportColumn(
            "line_amount",
            "商品金额",
            ("line amount", "item amount", "line total", "小计", "行金额", "明细金额", "商品实付"),
            LineAmountWidget(),
            sql_type="money",
        ),
        ImportColumn(
            "sku",
            "商品编码",
            ("sku", "item code", "product code", "barcode", "商品条码", "条码", "货号"),
            TextWidget(64),
        ),
    ]


def sales_template_csv() -> bytes:
    """UTF-8 with a byte-order mark (for Excel): the headers, a receipt of two lines and one of one."""
    store = Store.objects.filter(is_active=True).order_by("code").values_list("code", flat=True).first() or "SH001"
    rows = [
        ["A20240301001", "13800138000", store, "2024-03-01 10:30:00", "128.00", "饮料", "2", "28.00", "6901234567892"],
        ["A20240301001", "13800138000", store, "2024-03-01 10:30:00", "128.00", "护肤", "1", "100.00", ""],
        ["A20240302007", "13900139000", store, "2024-03-02 18:05:00", "45.50", "", "", "", ""],
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([column.header for column in sales_columns()])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")
