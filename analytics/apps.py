from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self):
        from analytics.selectors import churn_risk_source, churn_source, rfm_segment_source
        from analytics.tablet import MENU_ENTRY
        from campaigns.churn import register_churn_source
        from campaigns.segments import register_score_source
        from stores.tablet import register_menu_entry

        register_score_source("rfm_segment", rfm_segment_source)
        register_score_source("churn_risk", churn_risk_source)
        register_churn_source(churn_source)
        # RFM and churn scores on the member's 360 page.
        from analytics.member360 import register as register_member_360

        register_member_360()

        # Store managers read their store's staff figures on the tablet, after "Today".
        register_menu_entry(*MENU_ENTRY, after="tablet:today")
