from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        import campaigns.checks  # noqa: F401  (the message backends' settings are checked at start)
        from campaigns.demo import demo_messaging
        from stores.demo import register_demo_step

        register_demo_step("messaging", demo_messaging)
