from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceCardsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "servicecards"
    verbose_name = _("Service cards")

    def ready(self):
        # The card ledger's proofs join reconcile_ledger (loyalty cannot import this app).
        from loyalty.reconcile import register_check
        from servicecards.reconcile import CHECKS

        for name, sql in CHECKS.items():
            register_check(name, sql)
        # A card's sale is refunded with the card's uses, through card_refund, never as a plain sale.
        from loyalty.services.refunds import register_refund_guard
        from servicecards.services.cards import card_sale_refund_guard

        register_refund_guard(card_sale_refund_guard)
        # A member's erasure, data file and retention know about cards and bookings.
        from servicecards import erasure, member_data, retention

        erasure.register()
        member_data.register()
        retention.register()
        # The member summary (API, tablet) gains the member's cards in play.
        from servicecards.api.summary import register as register_member_summary

        register_member_summary()
        # The cards and the service history on the member's 360 page.
        from servicecards.member360 import register as register_member_360

        register_member_360()
        # The cards on the member's tablet page, and the managers' list of today's uses in the tablet's menu.
        from loyalty.views import register_member_page_section
        from servicecards.views import member_page_cards
        from stores.roles import Action
        from stores.tablet import register_menu_entry

        register_member_page_section(
            "service_cards", order=10, template="tablet/cards_member_section.html", load=member_page_cards
        )
        register_menu_entry("tablet:card-uses-today", _("Card uses"), Action.MANAGE_SERVICE_CARDS, after="tablet:today")
        # The demo chain's salon and gym, with cards sold and used over the past months.
        from servicecards.demo import demo_service_cards
        from stores.demo import register_demo_step

        register_demo_step("service_cards", demo_service_cards)
