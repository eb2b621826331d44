"""sales_import(): purchase history from a previous system, validated as it streams, written set-based.

A chain that switches systems brings years of receipts: receipt number, member's phone (blank for a
non-member sale), store code, time, amount paid (¥0 for a free gift or a visit paid wholly by a discount:
a visit that earns nothing; below zero is refused), and optionally the receipt's lines (category,
quantity, their amount, SKU), one row per receipt or one row per line. They become sales like the
till's (source "import", request id "import:<receipt no.>"), so the member's history, the purchase
statistics that tiers and analytics read (MemberStats, MemberDailySpend), and refunds all work on
them as on any sale.

1. Read (members.imports.engine): each cell through its widget (loyalty.resources), into a staging
   table (COPY on PostgreSQL). The local business day of each sale is worked out here, in Python.
2. Check, in SQL: phones that are no member's; the rows of a receipt are grouped and must agree on
   phone, store, time and amount; line amounts, when given, must add up to the receipt's amount; a
   receipt imported before must have the same figures (then it is unchanged, never imported twice);
   one bad row of a receipt rejects the whole receipt (a sale is never written without some of its
   lines). With award_points, the points each new sale earns are worked out by the very function
   checkout uses (loyalty.services.earning.points_for_sale), in one streamed pass in Python.
3. Write: the sales and their lines; the points accounts, then statistics, then daily spend, in the
   order tills lock them; the points as ledger entries with their lots (expiry counted from the
   sale's time); tier upgrades the history earns.

Points (only with award_points): the earning rule of the sale's store and day, member day and
birthday month multipliers, per-sale and per-day caps, excluded categories, all as at a till; the
tier multiplier is left out (the member's tier at the time is not known). Points that would have
expired by the time of the import are not awarded (the sale records 0), so that a later refund never
claws back points the member never had. The pending period counts from the sale's time.
Not done for imported sales: referral rewards, coupons, behaviour hooks (the previous system paid them).
"""

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import BinaryIO

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from loyalty.models import LoyaltySettings, PointsEntry, TierChange, TierPolicy
from loyalty.resources import MAX_RECEIPT_CHARS, RECEIPT_PREFIX, UNCATEGORISED, sales_columns
from loyalty.services.checkout import MAX_LINES
from loyalty.services.earning import EarnLine, active_rules, pick_rule, points_for_sale
from loyalty.services.locks import lock_points_account
from loyalty.services.points import EntryContext, credit
from loyalty.services.policy import available_from, expiry_for
from members.imports.columns import map_header
from members.imports.engine import BLANK_ROW, SKIP_BAD_ROWS, ImportProgress, ImportResult, ImportRun, run_import
from members.imports.reader import ImportFileError
from members.imports.stage import Stage
from members.models import Member
from members.resources import prepare_widgets
from stores.permissions import require_staff_can
from stores.roles import Action

# Only sales imports use it: they queue on it (a members import may run beside one).
_ADVISORY_LOCK = 7_301_005
POINTS_BATCH = 10_000


def sales_import(
    *,
    open_source: Callable[[], BinaryIO],
    file_name: str,
    actor,
    award_points: bool = False,
    skip_bad_rows: bool = False,
    dry_run: bool = False,
    error_report: BinaryIO | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    audit_target=None,
) -> ImportResult:
    """Import purchase history from the CSV that `open_source()` opens; `actor` (an HQ admin) is
    recorded as the sales' cashier. `created` and `unchanged` count sales (receipts), `rows` and
    `rejected` count rows of the file. Otherwise as members_import()."""
    require_staff_can(actor, Action.IMPORT_HISTORY)
    return run_import(
        _SalesRun,
        action="sales",
        open_source=open_source,
        file_name=file_name,
        actor=actor,
        skip_bad_rows=skip_bad_rows,
        dry_run=dry_run,
        error_report=error_report,
        progress=progress,
        audit_target=audit_target,
        options={"award_points": award_points},
    )


class _SalesRun(ImportRun):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.columns = sales_columns()
        prepare_widgets(self.columns, now=self.now)
        self.stage = Stage(
            self.columns,
            prefix="sale_import",
            fixed=[("day", "date"), ("phone_index", "digest")],
            state=[("member_id", "bigint")],
        )
        t = self.stage.table
        self.receipts = f"{t}_receipts"
        self.lines = f"{t}_lines"
        self.points = f"{t}_points"
        self.award_points = bool(self.options.get("award_points"))
        self.points_priced = False

    # --- 1. read and stage -----------------------------------------------------------------------

    def stage_file(self, stream: BinaryIO) -> None:
        reader = self.reader(stream)
        self.header = map_header(reader.header().cells, self.columns)
        reader.max_columns = self.header.width
        stage = self.stage
        if stage.is_postgresql:
            stage.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
        stage.tune()
        stage.create()
        self.report("reading")
        position = stage.positions()
        self._at = {key: position[key] for key in ("receipt_no", "sold_at", "day", "phone", "phone_index")}
        self._phone_field = Member._meta.get_field("phone")
        self._receipt_missing = f"{self.label_of('receipt_no')}: {_('Enter the receipt number.')}"
        self.stage_rows(reader)
        self.result.encoding = reader.encoding
        if not self.result.rows:
            raise ImportFileError(_("The file has a header but no rows."))
        self.report("checking")
        stage.index("receipt_no", "phone_index")

    def finish_row(self, values: list, cells: list[str], errors: list[str] | None):
        sold_at = values[self._at["sold_at"]]
        if sold_at is not None:
            # The widget reads the time in China time: its date is the business day.
            values[self._at["day"]] = sold_at.date()
        phone = values[self._at["phone"]]
        if phone is not None:
            # The member's phone is encrypted: rows find their member by its blind index.
            values[self._at["phone_index"]] = self._phone_field.whole_digest(phone)
        if values[self._at["receipt_no"]] is None:
            if errors is None and not "".join(cells).strip():
                return BLANK_ROW
            # Store, time and amount may be on the receipt's first row only; the receipt number is
            # what ties a row to its receipt, so every row needs it.
            errors = (errors or []) + [self._receipt_missing]
        return errors

    # --- 2. check --------------------------------------------------------------------------------

    def check(self) -> None:
        stage, t, r = self.stage, self.stage.table, self.receipts
        stage.execute(f"UPDATE {t} SET member_id = m.id FROM members_member m WHERE m.phone_index = {t}.phone_index")
        stage.mark_bad(
            f"{t}.phone IS NOT NULL AND {t}.member_id IS NULL AND {t}.error IS NULL",
            _("No member has the phone %(phone)s: import the members first, or leave the phone empty."),
            phone=f"{t}.phone",
        )
        self._group_receipts()
        self._check_receipts()
        # A receipt is written whole or not at all.
        stage.mark_bad(
            f"{t}.error IS NULL AND {r}.receipt_no = {t}.receipt_no AND {r}.error IS NOT NULL",
            "%(reason)s",
            from_=r,
            reason=f"{r}.error",
        )
        stage.mark_bad(
            f"{t}.error IS NULL AND {r}.receipt_no = {t}.receipt_no AND {r}.bad_line IS NOT NULL",
            _("Another line of this receipt (line %(line)s) is rejected."),
            from_=r,
            line=f"{r}.bad_line",
        )
        stage.execute(f"UPDATE {r} SET status = 'new' WHERE status IS NULL AND error IS NULL AND bad_line IS NULL")
        # The statistics taken when the receipts were grouped say no receipt is new: without fresh ones
        # the planner loops (the points pass's cursor took 640 s for 100,000 rows instead of seconds).
        stage.analyze(r)
        total, rejected = stage.fetchone(
            f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN error IS NOT NULL THEN 1 ELSE 0 END), 0) FROM {t}"
        )
        created, unchanged = stage.fetchone(
            f"SELECT COALESCE(SUM(CASE WHEN status = 'new' THEN 1 ELSE 0 END), 0), "
            f"COALESCE(SUM(CASE WHEN status = 'same' THEN 1 ELSE 0 END), 0) FROM {r}"
        )
        result = self.result
        result.rows, result.rejected, result.created, result.updated, result.unchanged = (
            total,
            rejected,
            created,
            0,
            unchanged,
        )
        result.errors = self.error_sample()
        will_write = created and (result.mode == SKIP_BAD_ROWS or not rejected)
        if will_write:
            self._split_lines()
            if self.award_points:
                self._price_points()
        result.extra = self._summary()
        self.report("checking")

    def _group_receipts(self) -> None:
        """One row per receipt number: the receipt's figures and whether its rows agree on them."""
        stage, t, r = self.stage, self.stage.table, self.receipts
        money = "numeric(12, 2)" if stage.is_postgresql else "decimal"
        moment = "timestamptz" if stage.is_postgresql else "datetime"
        quantity = "numeric(14, 3)" if stage.is_postgresql else "decimal"
        stage.execute(
            f"CREATE TEMP TABLE {r} (receipt_no text NOT NULL, first_line integer, lines integer, bad_line integer, "
            f"phone_min text, phone_max text, member_id bigint, store_min bigint, store_max bigint, "
            f"sold_min {moment}, sold_max {moment}, day date, amount_min {money}, amount_max {money}, "
            f"priced_lines integer, lines_total {money}, quantity_total {quantity}, "
            f"error text, status text, sale_id bigint)"
        )
        # MIN and MAX rather than COUNT(DISTINCT): they hash, and empty cells (NULL) agree with anything.
        stage.execute(
            f"INSERT INTO {r} (receipt_no, first_line, lines, bad_line, phone_min, phone_max, member_id, "
            f"store_min, store_max, sold_min, sold_max, day, amount_min, amount_max, priced_lines, lines_total, "
            f"quantity_total) SELECT receipt_no, MIN(line), COUNT(*), MIN(CASE WHEN error IS NOT NULL THEN line END), "
            f"MIN(phone), MAX(phone), MIN(member_id), MIN(store), MAX(store), MIN(sold_at), MAX(sold_at), MIN(day), "
            f"MIN(amount), MAX(amount), COUNT(line_amount), SUM(line_amount), SUM(COALESCE(quantity, 1)) "
            f"FROM {t} WHERE receipt_no IS NOT NULL GROUP BY receipt_no"
        )
        if not stage.is_postgresql:
            stage.execute(f"CREATE UNIQUE INDEX {r}_receipt ON {r} (receipt_no)")
        stage.analyze(r)

    def _mark_receipts(self, where: str, message: str, params=(), **expressions: str) -> None:
        r = self.receipts
        text, text_params = self.stage.message_sql(message, **expressions)
        self.stage.execute(
            f"UPDATE {r} SET error = {text} WHERE error IS NULL AND bad_line IS NULL AND ({where})",
            [*text_params, *params],
        )

    def _check_receipts(self) -> None:
        stage, r = self.stage, self.receipts
        mark = self._mark_receipts
        mark("phone_min <> phone_max", _("The rows of this receipt have different phones."))
        mark("store_min <> store_max", _("The rows of this receipt have different stores."))
        mark("sold_min <> sold_max", _("The rows of this receipt have different times."))
        mark("amount_min <> amount_max", _("The rows of this receipt have different amounts."))
        mark(
            "store_min IS NULL",
            _("The receipt has no store code (%(column)s).").replace("%(column)s", self.label_of("store")),
        )
        mark(
            "sold_min IS NULL",
            _("The receipt has no time of sale (%(column)s).").replace("%(column)s", self.label_of("sold_at")),
        )
        mark(
            "amount_min IS NULL",
            _("The receipt has no amount (%(column)s).").replace("%(column)s", self.label_of("amount")),
        )
        mark(f"lines > {MAX_LINES}", _("A receipt has at most %(max)d lines.").replace("%(max)d", str(MAX_LINES)))
        mark(
            "priced_lines > 0 AND priced_lines < lines",
            _("Give every line of this receipt its amount (%(column)s), or none.").replace(
                "%(column)s", self.label_of("line_amount")
            ),
        )
        mark(
            "priced_lines = lines AND ROUND(lines_total, 2) <> ROUND(amount_min, 2)",
            _("The lines add up to ¥%(total)s but the receipt's amount is ¥%(amount)s."),
            total=stage.money_text("lines_total"),
            amount=stage.money_text("amount_min"),
        )
        # Imported before: the same figures are the same sale (unchanged); others are refused.
        sale = (
            f"SELECT 1 FROM loyalty_sale s WHERE s.request_id = '{RECEIPT_PREFIX}' || {r}.receipt_no "
            f"AND s.source = 'import'"
        )
        same = (
            f"{sale} AND s.store_id = {r}.store_min AND s.created_at = {r}.sold_min "
            f"AND ROUND(s.total_due, 2) = ROUND({r}.amount_min, 2) "
            f"AND (s.member_id = {r}.member_id OR (s.member_id IS NULL AND {r}.member_id IS NULL))"
        )
        stage.execute(f"UPDATE {r} SET status = 'same' WHERE error IS NULL AND bad_line IS NULL AND EXISTS ({same})")
        mark(
            f"status IS NULL AND EXISTS ({sale})",
            _("This receipt was imported before with other figures; a sale is imported once."),
        )
        # A till's sale can never hold an "import:" request id (checkout refuses them), but a receipt
        # number is the only key: refuse one that a till could have sent as its request id.
        mark(
            f"status IS NULL AND EXISTS (SELECT 1 FROM loyalty_sale s WHERE s.request_id = "
            f"'{RECEIPT_PREFIX}' || {r}.receipt_no AND s.source <> 'import')",
            _("A sale with this receipt number as its request id exists already."),
        )

    def _split_lines(self) -> None:
        """The new receipts' lines with their amounts: as the file gives them, or the receipt's amount
        shared out by quantity, the rounding cent on the last line."""
        stage, t, r, ln = self.stage, self.stage.table, self.receipts, self.lines
        money = "numeric(12, 2)" if stage.is_postgresql else "decimal"
        quantity = "numeric(10, 3)" if stage.is_postgresql else "decimal"
        stage.execute(
            f"CREATE TEMP TABLE {ln} (receipt_no text NOT NULL, line_no integer NOT NULL, category text NOT NULL, "
            f"sku text NOT NULL, quantity {quantity} NOT NULL, amount {money})"
        )
        # "* 1.0": SQLite would divide the integers that its NUMERIC columns hold as integers.
        share = f"ROUND({r}.amount_min * 1.0 * COALESCE({t}.quantity, 1) / {r}.quantity_total, 2)"
        stage.execute(
            f"INSERT INTO {ln} (receipt_no, line_no, category, sku, quantity, amount) "
            f"SELECT {t}.receipt_no, ROW_NUMBER() OVER (PARTITION BY {t}.receipt_no ORDER BY {t}.line), "
            f"COALESCE({t}.category, %s), COALESCE({t}.sku, ''), COALESCE({t}.quantity, 1), "
            f"CASE WHEN {r}.priced_lines = {r}.lines THEN {t}.line_amount ELSE {share} END "
            f"FROM {t} JOIN {r} ON {r}.receipt_no = {t}.receipt_no AND {r}.status = 'new' WHERE {t}.error IS NULL",
            [UNCATEGORISED],
        )
        if not stage.is_postgresql:
            stage.execute(f"CREATE UNIQUE INDEX {ln}_line ON {ln} (receipt_no, line_no)")
        stage.analyze(ln)
        stage.execute(
            f"UPDATE {ln} SET amount = ROUND({ln}.amount + f.rest, 2) FROM (SELECT x.receipt_no, "
            f"ROUND(MIN({r}.amount_min) - SUM(x.amount), 2) AS rest, MAX(x.line_no) AS last FROM {ln} x "
            f"JOIN {r} ON {r}.receipt_no = x.receipt_no WHERE {r}.priced_lines < {r}.lines GROUP BY x.receipt_no) f "
            f"WHERE {ln}.receipt_no = f.receipt_no AND {ln}.line_no = f.last AND f.rest <> 0"
        )

    def _price_points(self) -> None:
        """What each new member sale earns, by checkout's own rules, in one pass over the receipts in
        member and time order (for the per-day caps); the answers go to a table of their own."""
        stage, r, ln, p = self.stage, self.receipts, self.lines, self.points
        money = "numeric(12, 2)" if stage.is_postgresql else "decimal"
        moment = "timestamptz" if stage.is_postgresql else "datetime"
        stage.execute(
            f"CREATE TEMP TABLE {p} (receipt_no text NOT NULL, points integer NOT NULL, eligible {money} NOT NULL, "
            f"expires_at {moment}, available_at {moment} NOT NULL, is_pending boolean NOT NULL)"
        )
        policy = LoyaltySettings.current()
        rules = active_rules()
        rule_memo: dict[tuple[int, date], object] = {}
        now = self.now
        self.too_old = 0
        rows = stage.iter_rows(
            f"SELECT {r}.receipt_no, {r}.member_id, {r}.store_min, {r}.day, {r}.sold_min, {r}.amount_min, "
            f"m.birth_month, COALESCE(d.points_earned, 0), {ln}.category, {ln}.sku, {ln}.amount "
            f"FROM {r} JOIN members_member m ON m.id = {r}.member_id JOIN {ln} ON {ln}.receipt_no = {r}.receipt_no "
            f"LEFT JOIN loyalty_memberdailyspend d ON d.member_id = {r}.member_id AND d.day = {r}.day "
            f"WHERE {r}.status = 'new' ORDER BY {r}.member_id, {r}.sold_min, {r}.receipt_no, {ln}.line_no",
            batch=POINTS_BATCH,
        )
        batch: list[tuple] = []
        earned_on: dict[tuple[int, date], int] = {}
        current_member = None
        for receipt in _receipts(rows):
            receipt_no, member_id, store_id, day, sold_at, amount, birth_month, earned_before, lines = receipt
            if member_id != current_member:
                # Caps are per member and day; only this member's days are needed from here on.
                earned_on.clear()
                current_member = member_id
            key = (store_id, day)
            if key not in rule_memo:
                rule_memo[key] = pick_rule(rules, store_id=store_id, day=day)
            today_key = (member_id, day)
            earned_today = earned_on.get(today_key, earned_before)
            earned = points_for_sale(
                rule=rule_memo[key],
                lines=lines,
                money_paid=amount,
                day=day,
                birth_month=birth_month,
                tier=None,
                earned_today=earned_today,
            )
            points = earned.points
            expires_at = expiry_for(sold_at, policy)
            if points and expires_at is not None and expires_at <= now:
                points = 0
                self.too_old += 1
            earned_on[today_key] = earned_today + points
            available_at = available_from(sold_at, policy)
            batch.append(
                (
                    receipt_no,
                    points,
                    earned.eligible_amount,
                    expires_at,
                    available_at,
                    points > 0 and available_at > now,
                )
            )
            if len(batch) >= POINTS_BATCH:
                stage.insert_rows(p, _POINTS_COLUMNS, batch)
                batch = []
        stage.insert_rows(p, _POINTS_COLUMNS, batch)
        if not stage.is_postgresql:
            stage.execute(f"CREATE UNIQUE INDEX {p}_receipt ON {p} (receipt_no)")
        stage.analyze(p)
        self.points_priced = True

    def _summary(self) -> list[tuple[str, str]]:
        stage, r = self.stage, self.receipts
        sales, members, amount, anonymous = stage.fetchone(
            f"SELECT COUNT(*), COUNT(DISTINCT member_id), COALESCE(SUM(amount_min), 0), "
            f"COALESCE(SUM(CASE WHEN member_id IS NULL THEN 1 ELSE 0 END), 0) FROM {r} WHERE status = 'new'"
        )
        figures = [
            (
                _("New sales"),
                _("%(sales)s sales to %(members)s members, ¥%(amount)s")
                % {"sales": f"{sales:,}", "members": f"{members:,}", "amount": f"{round(float(amount), 2):,.2f}"},
            ),
            (_("Sales without a member"), f"{anonymous:,}"),
        ]
        if self.points_priced:
            points, awarded = stage.fetchone(
                f"SELECT COALESCE(SUM(points), 0), COALESCE(SUM(CASE WHEN points > 0 THEN 1 ELSE 0 END), 0) "
                f"FROM {self.points}"
            )
            figures.append(
                (
                    _("Points awarded"),
                    _("%(points)s points on %(sales)s sales") % {"points": f"{points:,}", "sales": f"{awarded:,}"},
                )
            )
            if self.too_old:
                figures.append((_("Sales too old to earn points (they would have expired)"), f"{self.too_old:,}"))
        elif self.award_points and sales:
            figures.append((_("Points awarded"), _("worked out once the file has no bad rows")))
        return figures

    # --- 3. write --------------------------------------------------------------------------------

    def write(self) -> None:
        self.report("writing")
        stage = self.stage
        if not self.result.created:
            return  # every receipt was imported before
        self._assign_sale_ids()
        self._insert_sales()
        if self.points_priced:
            self._credit_members_in_debt()
        # Tills lock a member's points account, then their statistics, then the day's spend: so does
        # this, set-based, so that a till selling to one of these members meanwhile waits, never deadlocks.
        self._upsert_accounts()
        self._upsert_stats()
        self._upsert_daily_spend()
        if self.points_priced:
            self._insert_points_entries()
        self._upgrade_tiers()
        stage.execute(f"DROP TABLE IF EXISTS {self.points}")
        stage.execute(f"DROP TABLE IF EXISTS {self.lines}")
        stage.execute(f"DROP TABLE IF EXISTS {self.receipts}")

    def _assign_sale_ids(self) -> None:
        stage, r = self.stage, self.receipts
        if stage.is_postgresql:
            # In time order: ids then grow with the sales' times, as the till's do.
            stage.execute(
                f"UPDATE {r} SET sale_id = n.id FROM (SELECT o.receipt_no, "
                f"nextval(pg_get_serial_sequence('loyalty_sale', 'id')) AS id FROM (SELECT receipt_no FROM {r} "
                f"WHERE status = 'new' ORDER BY sold_min, receipt_no) o) n WHERE {r}.receipt_no = n.receipt_no"
            )
        else:
            (base,) = stage.fetchone(
                "SELECT MAX(COALESCE((SELECT MAX(id) FROM loyalty_sale), 0), "
                "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'loyalty_sale'), 0))"
            )
            stage.execute(
                f"UPDATE {r} SET sale_id = n.number + %s FROM (SELECT receipt_no, ROW_NUMBER() "
                f"OVER (ORDER BY sold_min, receipt_no) AS number FROM {r} WHERE status = 'new') n "
                f"WHERE {r}.receipt_no = n.receipt_no",
                [base],
            )
        stage.analyze(r)

    def _insert_sales(self) -> None:
        stage, r, ln, p = self.stage, self.receipts, self.lines, self.points
        points = (
            (
                f"COALESCE({p}.points, 0)",
                f"COALESCE({p}.eligible, 0)",
                f"LEFT JOIN {p} ON {p}.receipt_no = {r}.receipt_no",
            )
            if self.points_priced
            else ("0", "0", "")
        )
        stage.execute(
            "INSERT INTO loyalty_sale (id, request_id, payload_hash, source, channel, store_id, cashier_id, member_id, "
            "status, "
            "subtotal, tier_discount, coupon_discount, coupon_code, points_redeemed, points_value, total_due, "
            "paid_money, paid_principal, paid_bonus, points_earned, points_eligible_amount, refunded_amount, "
            "client_time, created_at) "
            f"SELECT {r}.sale_id, %s || {r}.receipt_no, 'import', 'import', 'store', {r}.store_min, %s, {r}.member_id, "
            f"'completed', {r}.amount_min, 0, 0, '', 0, 0, {r}.amount_min, {r}.amount_min, 0, 0, {points[0]}, "
            f"{points[1]}, 0, NULL, {r}.sold_min FROM {r} {points[2]} WHERE {r}.status = 'new' ORDER BY {r}.sale_id",
            [RECEIPT_PREFIX, self.actor_id],
        )
        stage.execute(
            "INSERT INTO loyalty_saleline (sale_id, line_no, category, sku, quantity, unit_price, amount, net_amount, "
            f"refunded_quantity) SELECT {r}.sale_id, {ln}.line_no, {ln}.category, {ln}.sku, {ln}.quantity, "
            f"ROUND({ln}.amount * 1.0 / {ln}.quantity, 2), {ln}.amount, {ln}.amount, 0 FROM {ln} "
            f"JOIN {r} ON {r}.receipt_no = {ln}.receipt_no ORDER BY {r}.sale_id, {ln}.line_no"
        )

    def _credit_members_in_debt(self) -> None:
        """Members who owe points (a refund clawed back points they had spent) are rare: credit()
        settles their debt out of the new lot first, under their account's lock, one sale at a time."""
        stage, r, p = self.stage, self.receipts, self.points
        policy = LoyaltySettings.current()
        owing = stage.fetchall(
            f"SELECT {r}.receipt_no, {r}.member_id, {r}.sale_id, {r}.store_min, {r}.sold_min, {p}.points "
            f"FROM {p} JOIN {r} ON {r}.receipt_no = {p}.receipt_no "
            f"JOIN loyalty_pointsaccount a ON a.member_id = {r}.member_id "
            f"WHERE a.debt > 0 AND {p}.points > 0 ORDER BY {r}.member_id, {r}.sold_min"
        )
        for receipt_no, member_id, sale_id, store_id, sold_at, points in owing:
            account = lock_points_account(member_id)
            credit(
                account,
                points=points,
                kind=PointsEntry.Kind.EARN,
                key=f"sale:{sale_id}:earn",
                ctx=EntryContext(store_id=store_id, staff_id=self.actor_id, sale_id=sale_id, reason=_import_reason()),
                now=_as_datetime(sold_at),
                policy=policy,
            )
            # Credited: the set-based writes below leave this sale alone.
            stage.execute(f"UPDATE {p} SET points = -points WHERE receipt_no = %s", [receipt_no])

    def _upsert_accounts(self) -> None:
        stage, r, p = self.stage, self.receipts, self.points
        at = stage.param(self.now)
        if self.points_priced:
            credited = (
                f"SELECT {r}.member_id, "
                f"SUM(CASE WHEN {p}.points > 0 AND NOT {p}.is_pending THEN {p}.points ELSE 0 END) AS available, "
                f"SUM(CASE WHEN {p}.points > 0 AND {p}.is_pending THEN {p}.points ELSE 0 END) AS pending "
                f"FROM {r} LEFT JOIN {p} ON {p}.receipt_no = {r}.receipt_no "
                f"WHERE {r}.status = 'new' AND {r}.member_id IS NOT NULL GROUP BY {r}.member_id"
            )
        else:
            credited = (
                f"SELECT member_id, 0 AS available, 0 AS pending FROM {r} "
                f"WHERE status = 'new' AND member_id IS NOT NULL GROUP BY member_id"
            )
        # The account moves by what was added, under the row lock the UPDATE takes; members who had
        # none get one, as their first sale at a till would give them.
        stage.execute(
            "INSERT INTO loyalty_pointsaccount (member_id, available, pending, debt, lifetime_earned, updated_at) "
            f"SELECT c.member_id, c.available, c.pending, 0, c.available + c.pending, %s FROM ({credited}) c "
            "WHERE TRUE ORDER BY c.member_id ON CONFLICT (member_id) DO UPDATE "
            "SET available = loyalty_pointsaccount.available + excluded.available, "
            "pending = loyalty_pointsaccount.pending + excluded.pending, "
            "lifetime_earned = loyalty_pointsaccount.lifetime_earned + excluded.lifetime_earned, "
            "updated_at = excluded.updated_at",
            [at],
        )

    def _upsert_stats(self) -> None:
        stage, r = self.stage, self.receipts
        earlier = "loyalty_memberstats.first_purchase_at"
        later = "loyalty_memberstats.last_purchase_at"
        stage.execute(
            "INSERT INTO loyalty_memberstats (member_id, tier_id, tier_since, first_purchase_at, last_purchase_at, "
            "purchase_count, total_spend, total_refunded) "
            f"SELECT member_id, NULL, NULL, MIN(sold_min), MAX(sold_min), COUNT(*), SUM(amount_min), 0 FROM {r} "
            "WHERE status = 'new' AND member_id IS NOT NULL GROUP BY member_id ORDER BY member_id "
            "ON CONFLICT (member_id) DO UPDATE SET "
            "purchase_count = loyalty_memberstats.purchase_count + excluded.purchase_count, "
            "total_spend = loyalty_memberstats.total_spend + excluded.total_spend, "
            f"first_purchase_at = CASE WHEN {earlier} IS NULL OR excluded.first_purchase_at < {earlier} "
            f"THEN excluded.first_purchase_at ELSE {earlier} END, "
            f"last_purchase_at = CASE WHEN {later} IS NULL OR excluded.last_purchase_at > {later} "
            f"THEN excluded.last_purchase_at ELSE {later} END"
        )

    def _upsert_daily_spend(self) -> None:
        stage, r, p = self.stage, self.receipts, self.points
        points, join = (
            (
                f"SUM(CASE WHEN {p}.points > 0 THEN {p}.points ELSE 0 END)",
                f"LEFT JOIN {p} ON {p}.receipt_no = {r}.receipt_no",
            )
            if self.points_priced
            else ("0", "")
        )
        # Credited one by one above (members in debt): credit() does not touch the day's row.
        debt_points = f"SUM(CASE WHEN {p}.points < 0 THEN -{p}.points ELSE 0 END)" if self.points_priced else "0"
        stage.execute(
            "INSERT INTO loyalty_memberdailyspend (member_id, day, spend, visits, points_earned) "
            f"SELECT {r}.member_id, {r}.day, SUM({r}.amount_min), COUNT(*), {points} + {debt_points} FROM {r} {join} "
            f"WHERE {r}.status = 'new' AND {r}.member_id IS NOT NULL GROUP BY {r}.member_id, {r}.day "
            f"ORDER BY {r}.member_id, {r}.day "
            "ON CONFLICT (member_id, day) DO UPDATE SET spend = loyalty_memberdailyspend.spend + excluded.spend, "
            "visits = loyalty_memberdailyspend.visits + excluded.visits, "
            "points_earned = loyalty_memberdailyspend.points_earned + excluded.points_earned"
        )

    def _insert_points_entries(self) -> None:
        stage, r, p = self.stage, self.receipts, self.points
        at = stage.param(self.now)
        reason = _import_reason()
        source = f"{p} JOIN {r} ON {r}.receipt_no = {p}.receipt_no"
        key = f"'sale:' || CAST({r}.sale_id AS text) || ':earn'"
        entries = (
            "INSERT INTO loyalty_pointsentry (member_id, kind, points, debt, idempotency_key, store_id, staff_id, "
            f"sale_id, reason, created_at) SELECT {r}.member_id, %s, {p}.points, 0, {key}, {r}.store_min, %s, "
            f"{r}.sale_id, %s, %s FROM {source} WHERE {p}.points > 0 ORDER BY {r}.sale_id"
        )
        lots = (
            "INSERT INTO loyalty_pointslot (member_id, entry_id, points, remaining, available_at, expires_at, "
            "is_pending, created_at) "
        )
        entry_params = [PointsEntry.Kind.EARN, self.actor_id, reason, at]
        if stage.is_postgresql:
            stage.execute(
                f"WITH e AS ({entries} RETURNING id, member_id, points, sale_id) "
                f"{lots} SELECT e.member_id, e.id, e.points, e.points, {p}.available_at, {p}.expires_at, "
                f"{p}.is_pending, %s FROM e JOIN {r} ON {r}.sale_id = e.sale_id "
                f"JOIN {p} ON {p}.receipt_no = {r}.receipt_no",
                [*entry_params, at],
            )
        else:
            stage.execute(entries, entry_params)
            stage.execute(
                f"{lots} SELECT e.member_id, e.id, e.points, e.points, {p}.available_at, {p}.expires_at, "
                f"{p}.is_pending, %s FROM {source} JOIN loyalty_pointsentry e ON e.member_id = {r}.member_id "
                f"AND e.idempotency_key = {key} WHERE {p}.points > 0",
                [at],
            )

    def _upgrade_tiers(self) -> None:
        """Members whose qualifying value over the tier window (as of now) reaches a higher tier move up,
        as a sale at a till would move them; never down (that is the evaluation job's)."""
        stage, r = self.stage, self.receipts
        if not stage.fetchone("SELECT COUNT(*) FROM loyalty_tier")[0]:
            return
        policy = TierPolicy.current()
        today = timezone.localdate(self.now)
        since = today - timedelta(days=policy.window_days - 1)
        metric = {"points": "d.points_earned", "visits": "d.visits"}.get(policy.metric, "d.spend")
        moves = f"{r}_tiers"
        stage.execute(f"CREATE TEMP TABLE {moves} (member_id bigint PRIMARY KEY, from_tier bigint, to_tier bigint)")
        buyers = f"SELECT DISTINCT member_id FROM {r} WHERE status = 'new' AND member_id IS NOT NULL"
        # Each buyer's value over the window once (one aggregate), then the highest tier it reaches.
        stage.execute(
            f"INSERT INTO {moves} (member_id, from_tier, to_tier) SELECT v.member_id, v.tier_id, t.id FROM ("
            f"SELECT s.member_id, s.tier_id, COALESCE(w.value, 0) AS value, c.rank AS current_rank "
            f"FROM loyalty_memberstats s JOIN ({buyers}) b ON b.member_id = s.member_id "
            f"LEFT JOIN (SELECT d.member_id, SUM({metric}) AS value FROM loyalty_memberdailyspend d "
            f"WHERE d.member_id IN ({buyers}) AND d.day >= %s AND d.day <= %s GROUP BY d.member_id) w "
            f"ON w.member_id = s.member_id LEFT JOIN loyalty_tier c ON c.id = s.tier_id) v "
            f"JOIN loyalty_tier t ON t.threshold <= v.value AND NOT EXISTS (SELECT 1 FROM loyalty_tier h "
            f"WHERE h.threshold <= v.value AND h.rank > t.rank) "
            f"WHERE v.current_rank IS NULL OR t.rank > v.current_rank",
            [stage.param(since), stage.param(today)],
        )
        at = stage.param(self.now)
        stage.execute(
            f"UPDATE loyalty_memberstats SET tier_id = m.to_tier, tier_since = %s FROM {moves} m "
            f"WHERE loyalty_memberstats.member_id = m.member_id",
            [at],
        )
        stage.execute(
            "INSERT INTO loyalty_tierchange (member_id, from_tier_id, to_tier_id, reason, sale_id, created_at) "
            f"SELECT member_id, from_tier, to_tier, %s, NULL, %s FROM {moves} ORDER BY member_id",
            [TierChange.Reason.IMPORT, at],
        )
        stage.execute(f"DROP TABLE {moves}")


_POINTS_COLUMNS = ("receipt_no", "points", "eligible", "expires_at", "available_at", "is_pending")


def _import_reason() -> str:
    # Read in the import's language, hence a function.
    return _("Points for a sale imported from the previous system")[:255]


def _receipts(rows: Iterator[tuple]) -> Iterator[tuple]:
    """Rows of (receipt, its figures, one line) in receipt order → one tuple per receipt, its lines
    gathered as EarnLines; values as either database returns them."""
    current = None
    lines: list[EarnLine] = []
    for receipt_no, member_id, store_id, day, sold_at, amount, birth_month, earned, category, sku, line_amount in rows:
        if current is not None and receipt_no != current[0]:
            yield (*current, lines)
            lines = []
        if current is None or receipt_no != current[0]:
            current = (
                receipt_no,
                member_id,
                store_id,
                _as_date(day),
                _as_datetime(sold_at),
                _as_money(amount),
                birth_month,
                int(earned or 0),
            )
        lines.append(EarnLine(category, sku, _as_money(line_amount)))
    if current is not None:
        yield (*current, lines)


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return parse_date(str(value)[:10])


def _as_datetime(value) -> datetime:
    if isinstance(value, str):
        value = parse_datetime(value)
    if timezone.is_naive(value):
        # SQLite keeps datetimes as UTC text without an offset.
        value = value.replace(tzinfo=UTC)
    return value


def _as_money(value) -> Decimal:
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    # SQLite returns a decimal column as a float: via its shortest repr, then to the cent.
    return Decimal(repr(value) if isinstance(value, float) else str(value)).quantize(Decimal("0.01"))


assert MAX_RECEIPT_CHARS + len(RECEIPT_PREFIX) <= 64
