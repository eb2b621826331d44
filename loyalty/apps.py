from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self):
        from loyalty.api.summary import register as register_member_summary
        from loyalty.demo import demo_loyalty
        from loyalty.exports import (
            LEDGER_EXPORT_KINDS,
            ledger_export_rebuild,
            register_ignored_import_columns,
            register_member_export_columns,
        )
        from loyalty.resources import sales_columns, sales_template_csv
        from loyalty.selectors import sales_to_review_count
        from loyalty.services.behaviour import points_reward_completed_profile
        from loyalty.services.opening import OpeningBalancesImport
        from loyalty.services.sales_import import sales_import
        from members.export_jobs import ExportKindSpec, register_export_kind
        from members.imports.extensions import register_import_extension
        from members.imports.jobs import ImportKindSpec, register_import_kind
        from members.models import ImportJob
        from members.services import register_profile_saved_hook
        from stores.demo import register_demo_step
        from stores.roles import Action
        from stores.tablet import register_menu_badge

        # Tier, points and stored value in the API's member summary (members cannot import loyalty).
        register_member_summary()
        # Points, tier, stored value and purchases on the member's 360 page.
        from loyalty.member360 import register as register_member_360

        register_member_360()
        # The tablet's "To review" entry shows how many queued sales wait for the store's manager.
        register_menu_badge("tablet:reviews", lambda request, store: sales_to_review_count([store.pk]))
        # ... and in the members export (积分余额, 储值余额, 会员等级).
        register_member_export_columns()
        # ... which the members import recognises when such a file comes back (会员等级 is read past).
        register_ignored_import_columns()
        # Ledger exports too large for a request are written by a worker, through the members app's jobs.
        for ledger, kind in LEDGER_EXPORT_KINDS.items():
            register_export_kind(
                ExportKindSpec(kind=kind, rebuild=ledger_export_rebuild, page=f"admin:loyalty_{ledger}entry_export")
            )

        register_profile_saved_hook(points_reward_completed_profile)
        # A member's erasure waits for their refundable sales and settles their stored value.
        from loyalty.erasure import register as register_erasure

        register_erasure()
        # ... and its part of the member's data file.
        from loyalty.member_data import register as register_member_data

        register_member_data()
        # ... and what counts as the member's activity for the retention rule.
        from loyalty.retention import register as register_retention

        register_retention()

        # Opening points and stored value arrive as columns of the members import.
        register_import_extension(OpeningBalancesImport())
        # Purchase history from a previous system, through the same import jobs and pages.
        register_import_kind(
            ImportKindSpec(
                kind=ImportJob.Kind.SALES,
                title=_("Import purchase history"),
                intro=_(
                    "Receipts from the previous system, one row per receipt or one row per line of a receipt "
                    "(the receipt number on every row). They become sales of their members: purchase history, "
                    "statistics and tiers; points only if you tick “award points”. A receipt already imported "
                    "is never imported twice; a receipt with one bad row is rejected whole."
                ),
                action=Action.IMPORT_HISTORY,
                run=sales_import,
                columns=sales_columns,
                template=sales_template_csv,
                options=("award_points",),
            )
        )

        # INSTALLED_APPS puts members before loyalty, so this step runs after "members".
        register_demo_step("loyalty", demo_loyalty)
