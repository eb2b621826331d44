from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_role_groups(sender, using, apps=None, **kwargs):
    from django.apps import apps as global_apps

    from stores.roles import sync_role_groups

    # Runs after every migrate so models added later get their permissions granted to the roles.
    sync_role_groups(global_apps)


class StoresConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "stores"
    verbose_name = _("Stores and staff")

    def ready(self):
        import config.checks
        import config.throttling  # noqa: F401  (and the throttles' own)

        post_migrate.connect(_sync_role_groups, sender=self, dispatch_uid="stores.sync_role_groups")
        from django.contrib.auth.signals import user_logged_in

        from stores.sessions import restart_on_login

        user_logged_in.connect(restart_on_login, dispatch_uid="stores.sessions.restart_on_login")
