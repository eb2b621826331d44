"""The back office's admin site: Django's own, with one rule every list keeps.

Django lets a changelist's address filter on any of the model's own fields (`?phone__startswith=1381234`).
For a role that reads masked phones that is an oracle: the count of rows gives a full phone away a digit at
a time, and the same goes for names, addresses and message recipients. So a list may be narrowed by free
text only through its search box (which `members.search` reads and the access log records) and by text
only through its declared list filters; links between pages filter by ids and choices, which stay allowed.
And the search box itself POSTs: what is typed into it never lands in an address (config.admin_search).
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.db import models

from config.admin_search import SearchByPost


def _free_text(field) -> bool:
    return isinstance(field, models.CharField | models.TextField) and not field.choices


class FilterLookupsOnly:
    def lookup_allowed(self, lookup, value, request=None):
        if not super().lookup_allowed(lookup, value, request):
            return False
        name = lookup.split("__", 1)[0]
        try:
            field = self.model._meta.get_field(name)
        except Exception:
            return True  # not a field: Django ignores it
        if not _free_text(field):
            return True
        return name in self._filter_names(request)

    def _filter_names(self, request) -> set[str]:
        names = set()
        filters = self.get_list_filter(request) if request is not None else self.list_filter
        for item in filters:
            if isinstance(item, str):
                names.add(item.split("__", 1)[0])
            elif isinstance(item, list | tuple):
                names.add(item[0].split("__", 1)[0])
            elif isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
                names.add(item.parameter_name)
        return names


class BackOfficeSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, FilterLookupsOnly):
            admin_class = type(
                admin_class.__name__,
                (SearchByPost, FilterLookupsOnly, admin_class),
                {"__module__": admin_class.__module__},
            )
        super().register(model_or_iterable, admin_class, **options)


class BackOfficeAdminConfig(AdminConfig):
    default_site = "config.admin_site.BackOfficeSite"
