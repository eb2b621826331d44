from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        import campaigns.checks  # noqa: F401  (the message backends' settings are checked at start)
        from campaigns.api.summary import register as register_member_summary
        from campaigns.demo import demo_messaging
        from campaigns.services.coupons import coupons_on_registration
        from campaigns.services.redemption import CouponRedemption
        from loyalty.services.checkout import register_coupon_applier
        from members.services import register_member_registered_hook
        from stores.demo import register_demo_step

        register_demo_step("messaging", demo_messaging)
        # Coupons at checkout (loyalty cannot import campaigns: it calls what is registered here).
        register_coupon_applier(CouponRedemption())
        # A registration gift for every new member, inside the registering transaction.
        register_member_registered_hook(coupons_on_registration)
        # The member summary's usable coupons (the placeholder in members.api.summary until now).
        register_member_summary()
        # Coupons and the campaigns received on the member's 360 page.
        from campaigns.member360 import register as register_member_360

        register_member_360()
        # Automations: event triggers from loyalty (each enqueues a task after the event's commit) and a demo.
        from campaigns.demo import demo_automations
        from campaigns.services import automations as journeys
        from loyalty.services.behaviour import register_referral_rewarded_hook
        from loyalty.services.checkout import register_after_sale_hook
        from loyalty.services.wallet import register_after_topup_hook

        register_after_sale_hook(journeys.automations_after_sale)
        register_referral_rewarded_hook(journeys.automations_after_referral)
        register_after_topup_hook(journeys.automations_after_topup)
        register_demo_step("automations", demo_automations)
        # The members list's "segment" filter (members cannot import campaigns).
        from campaigns.admin.segments import SegmentMemberFilter
        from members.admin import register_member_list_filter

        register_member_list_filter(SegmentMemberFilter)
        # A segment's export, written by a worker, selects its members again by the rules it kept.
        from campaigns.services.segments import SEGMENT_SELECTION, segment_selection
        from members.export_jobs import register_member_selection

        register_member_selection(SEGMENT_SELECTION, segment_selection)
        # Campaign and automation points boosts at checkout: the best one counts, once per sale.
        from campaigns.selectors.campaigns import points_boosts_for
        from loyalty.services.earning import register_points_boost_source

        register_points_boost_source(points_boosts_for)
        from campaigns.demo import demo_campaigns

        register_demo_step("campaigns", demo_campaigns)
        # A member's erasure voids their coupons and stops their messages.
        from campaigns.erasure import register as register_erasure

        register_erasure()
        # ... and its part of the member's data file.
        from campaigns.member_data import register as register_member_data

        register_member_data()
        # ... and what counts as the member's activity for the retention rule.
        from campaigns.retention import register as register_retention

        register_retention()
        # The member's confirmation code of a service-card use goes out as an SMS through the outbox.
        from campaigns.servicecard_codes import register as register_servicecard_codes

        register_servicecard_codes()
