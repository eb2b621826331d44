from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self):
        from loyalty.api.summary import register as register_member_summary
        from loyalty.demo import demo_loyalty
        from loyalty.exports import register_member_export_columns
        from loyalty.services.behaviour import points_reward_completed_profile
        from loyalty.services.opening import OpeningBalancesImport
        from members.imports.extensions import register_import_extension
        from members.services import register_profile_saved_hook
        from stores.demo import register_demo_step

        # Tier, points and stored value in the API's member summary (members cannot import loyalty).
        register_member_summary()
        # ... and in the members export (积分余额, 储值余额, 会员等级).
        register_member_export_columns()

        register_profile_saved_hook(points_reward_completed_profile)

        # Opening points and stored value arrive as columns of the members import.
        register_import_extension(OpeningBalancesImport())

        # INSTALLED_APPS puts members before loyalty, so this step runs after "members".
        register_demo_step("loyalty", demo_loyalty)
