from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "members"
    verbose_name = _("Members")

    def ready(self):
        import members.checks  # noqa: F401  (the access log's retention is checked at start)
        from members.demo import demo_members
        from members.export_jobs import ExportKindSpec, member_export_rebuild, register_export_kind
        from members.imports.jobs import ImportKindSpec, register_import_kind
        from members.imports.service import members_import
        from members.imports.template import template_csv
        from members.models import ExportJob, ImportJob
        from members.resources import import_columns, import_ignored_columns
        from stores.demo import register_demo_step
        from stores.roles import Action

        register_demo_step("members", demo_members)
        # The 360 page's own sections; loyalty, campaigns and analytics register theirs.
        from members.admin_360 import register as register_member_360

        register_member_360()
        register_import_kind(
            ImportKindSpec(
                kind=ImportJob.Kind.MEMBERS,
                title=_("Import members"),
                intro=_(
                    "Members are matched by phone, however it is written: a phone already registered updates "
                    "that member, a new one creates a member. Empty cells keep what the member has. Opening "
                    "points and stored value become ledger entries, once per member. Importing the same file "
                    "again changes nothing."
                ),
                action=Action.EDIT_MEMBERS,
                run=members_import,
                columns=import_columns,
                template=template_csv,
                ignored=import_ignored_columns,
            )
        )
        # Members exports too large for a request are written by a worker (members.export_jobs), which
        # selects the members again as the members list does.
        from members.admin_exports import MEMBER_LIST, member_list_selection
        from members.export_jobs import register_member_selection

        register_member_selection(MEMBER_LIST, member_list_selection)
        register_export_kind(
            ExportKindSpec(
                kind=ExportJob.Kind.MEMBERS, rebuild=member_export_rebuild, page="admin:members_member_export"
            )
        )
