"""The sections of a member's 360 page in the back office (members.admin mounts the page).

The page shows more than the members app owns: points, tiers, stored value and purchases (loyalty),
coupons and campaigns (campaigns), scores (analytics). Those apps sit above members (DESIGN §3), so
each registers its sections here from its AppConfig.ready(): a key, where it goes (`order`), a title,
the template that draws it and a loader, `loader(member, request) → context`, that reads in a constant
number of queries whatever the member's history. An app may also add facts to a section it does not
own with `extend_section` (loyalty tells the referrals section which referred members bought).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.db.models import Model
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode

from members.models import Member

# The most recent rows each list shows; "see all" opens the full list.
RECENT_ROWS = 20

Loader = Callable[[Member, HttpRequest], dict[str, Any]]
Extender = Callable[[Member, HttpRequest, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Section:
    key: str
    order: int
    title: Any  # a lazy translation
    template: str
    loader: Loader
    wide: bool = False  # a table that needs the page's whole width


@dataclass
class LoadedSection:
    key: str
    title: str
    template: str
    wide: bool
    data: dict[str, Any] = field(default_factory=dict)


_sections: dict[str, Section] = {}
_extenders: dict[str, list[Extender]] = {}


def register_section(key: str, *, order: int, title, template: str, loader: Loader, wide: bool = False) -> None:
    """Add (or replace) a section of the 360 page; call it from AppConfig.ready()."""
    _sections[key] = Section(key=key, order=order, title=title, template=template, loader=loader, wide=wide)


def extend_section(key: str, extender: Extender) -> None:
    """Add facts to another app's section: `extender(member, request, data)` returns more context."""
    extenders = _extenders.setdefault(key, [])
    if extender not in extenders:
        extenders.append(extender)


def registered_sections() -> list[Section]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.key))


def member_360_sections(member: Member, request: HttpRequest) -> list[LoadedSection]:
    """Every registered section, in order, with what its loader (and any extenders) read."""
    loaded = []
    for section in registered_sections():
        data = dict(section.loader(member, request))
        for extender in _extenders.get(section.key, ()):
            data.update(extender(member, request, data))
        loaded.append(
            LoadedSection(
                key=section.key, title=str(section.title), template=section.template, wide=section.wide, data=data
            )
        )
    return loaded


def member_changelist_url(
    request: HttpRequest, model: type[Model], member: Member, *, path: str = "member"
) -> str | None:
    """The admin list of `model` filtered to the member, or None where the reader may not open it."""
    if not may_view(request, model):
        return None
    opts = model._meta
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    except NoReverseMatch:
        return None
    return f"{url}?{urlencode({f'{path}__id__exact': member.pk})}"


def may_view(request: HttpRequest, model: type[Model]) -> bool:
    """Whether the reader may open `model`'s admin pages (marketers see members, not the ledgers)."""
    try:
        model_admin = admin.site.get_model_admin(model)
    except NotRegistered:
        return False
    return model_admin.has_view_permission(request)
