"""Every date, time and datetime input of the project gives back, in every language, the value it shows.

A form is rendered holding dates and times (with seconds), submitted the way a browser would submit it
(a date control drops a value that is not ISO, see config/widgets.py), and bound again: each date and
time must come back unchanged. Every form class of the project's apps is walked, and every form of
the admin (its own model forms and the inlines'), so a new form cannot bring the defect back.
"""

import datetime
import importlib
import pkgutil
import re
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.utils import translation
from django.utils.datastructures import MultiValueDict

from campaigns.forms import VALIDITY_DATES
from campaigns.models import CouponTemplate
from config.widgets import IsoDateInput, IsoDateTimeInput, IsoTimeInput
from servicecards.models import CardProduct, Service

PROJECT_APPS = ["config", "stores", "members", "loyalty", "campaigns", "analytics", "servicecards"]
ENTRY_POINTS = {"config.wsgi", "config.asgi"}
LANGUAGES = [code for code, _name in settings.LANGUAGES]
TEMPORAL = (forms.DateField, forms.TimeField, forms.DateTimeField, forms.SplitDateTimeField)
ISO_WIDGETS = {"date": IsoDateInput, "time": IsoTimeInput, "datetime-local": IsoDateTimeInput}
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Hand-written date inputs, each with why its value is always ISO.
TEMPLATE_INPUTS_ALLOWED = {
    # The segment builder's registration-date rule: the values are the rule's own ISO strings
    # (campaigns.segments._dates_clean) or what the browser sent.
    "templates/admin/campaigns/segment/_rule_inputs.html",
}


# --- what a browser submits --------------------------------------------------------------------

DATE = r"\d{4,}-\d{2}-\d{2}"
TIME = r"\d{2}:\d{2}(?::(\d{2})(?:\.\d{1,3})?)?"
BROWSER_VALUE = {
    "date": re.compile(rf"^{DATE}$"),
    "time": re.compile(rf"^{TIME}$"),
    "datetime-local": re.compile(rf"^{DATE}[T ]{TIME}$"),
}


class BrowserSubmission(HTMLParser):
    """The name/value pairs a browser sends for a rendered form, and what it would refuse to send.

    Like the browser, a date, time or datetime-local input keeps only a valid ISO value (anything else
    is sent empty), and a value with seconds needs a step that allows seconds or the form is not sent.
    """

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.data = MultiValueDict()
        self.problems: list[str] = []
        self._select = None
        self._textarea = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "option" and self._select is not None:
            self._select["options"].append((attrs.get("value") or "", "selected" in attrs))
        if not name or "disabled" in attrs:
            return
        if tag == "input":
            self._input(name, (attrs.get("type") or "text").lower(), attrs)
        elif tag == "select":
            self._select = {"name": name, "multiple": "multiple" in attrs, "options": []}
        elif tag == "textarea":
            self._textarea = {"name": name, "text": []}

    def _input(self, name: str, kind: str, attrs: dict) -> None:
        value = attrs.get("value") or ""
        if kind in ("checkbox", "radio"):
            if "checked" in attrs:
                self.data.appendlist(name, value or "on")
            return
        if kind in ("submit", "button", "reset", "image", "file"):
            return
        if kind in BROWSER_VALUE and value:
            match = BROWSER_VALUE[kind].match(value)
            if match is None:
                value = ""
            elif kind != "date" and (match.group(1) or "00") != "00" and not attrs.get("step"):
                self.problems.append(f"{name}: the browser refuses {value!r} without a step of a second")
            value = value.replace(" ", "T")
        self.data.appendlist(name, value)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["text"].append(data)

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            chosen = [value for value, selected in self._select["options"] if selected]
            if not chosen and not self._select["multiple"] and self._select["options"]:
                chosen = [self._select["options"][0][0]]
            for value in chosen:
                self.data.appendlist(self._select["name"], value)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._textarea["text"])
            self.data.appendlist(self._textarea["name"], text[1:] if text.startswith("\n") else text)
            self._textarea = None


# --- the forms ---------------------------------------------------------------------------------


def _project_modules():
    for app in PROJECT_APPS:
        package = importlib.import_module(app)
        for info in pkgutil.walk_packages(package.__path__, f"{app}."):
            # The WSGI/ASGI entry points hold no forms, and refuse to load on the tests' key (config/production.py).
            if ".migrations" not in info.name and ".management" not in info.name and info.name not in ENTRY_POINTS:
                importlib.import_module(info.name)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def project_form_classes() -> list[type[forms.BaseForm]]:
    _project_modules()
    found = {c for c in _subclasses(forms.BaseForm) if c.__module__.split(".")[0] in PROJECT_APPS}
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _widgets(widget):
    yield widget
    for inner in getattr(widget, "widgets", ()):  # MultiWidget
        yield from _widgets(inner)
    if hasattr(widget, "widget"):  # the admin's RelatedFieldWidgetWrapper
        yield from _widgets(widget.widget)


def temporal_fields(form: forms.BaseForm) -> list[str]:
    return [name for name, field in form.fields.items() if isinstance(field, TEMPORAL) and not field.disabled]


def sample(field: forms.Field, index: int):
    """A value with everything a format could lose: a day after the 12th, seconds, late evening."""
    day = datetime.date(2026, 11, 28) + datetime.timedelta(days=index)
    if isinstance(field, forms.DateField):
        return day
    if isinstance(field, forms.TimeField):
        return datetime.time(20 + index % 4, 45, 30)
    return datetime.datetime.combine(day, datetime.time(23, 45, 30), tzinfo=SHANGHAI)


def round_trip(build) -> list[str]:
    """build(data) → the form (unbound when data is None); what did not come back as it was shown."""
    form = build(None)
    names = temporal_fields(form)
    if not names:
        return []
    expected = {name: form[name].initial for name in names}
    submission = BrowserSubmission(str(form))
    again = build(submission.data)
    again.is_valid()
    problems = [f"{form.__class__.__name__}.{p}" for p in submission.problems]
    for name in names:
        got = again.cleaned_data.get(name) if name not in again.errors else again.errors[name]
        if got != expected[name]:
            sent = {k: submission.data.getlist(k) for k in submission.data if k == name or k.startswith(f"{name}_")}
            problems.append(f"{form.__class__.__name__}.{name}: showed {expected[name]!r}, sent {sent}, read {got!r}")
    return problems


def _model_instance(form_class, index_of):
    model = form_class._meta.model
    instance = model()
    for name, field in form_class.base_fields.items():
        if isinstance(field, TEMPORAL) and name in index_of:
            setattr(instance, name, sample(field, index_of[name]))
    return instance


def _builder(form_class):
    kwargs = form_kwargs(form_class)
    index_of = {n: i for i, (n, f) in enumerate(form_class.base_fields.items()) if isinstance(f, TEMPORAL)}
    if issubclass(form_class, forms.BaseModelForm):
        return lambda data: form_class(data=data, instance=_model_instance(form_class, index_of), **kwargs)
    initial = {name: sample(form_class.base_fields[name], i) for name, i in index_of.items()}
    initial.update(kwargs.pop("initial", {}))
    return lambda data: form_class(data=data, initial=initial, **kwargs)


# Forms that need something to be built (a new one fails below until it is added here), or to be told
# to keep their dates (a coupon template's dates count only for fixed-dates validity).
FORM_KWARGS = {
    "CouponIssueForm": lambda: {"templates": CouponTemplate.objects.none()},
    "CouponTemplateForm": lambda: {"initial": {"validity": VALIDITY_DATES}},
    "StaffPasswordChangeForm": lambda: {"user": get_user_model()(username="someone")},
    "CardSellForm": lambda: {"products": CardProduct.objects.none()},
    "CardUseForm": lambda: {
        "services": Service.objects.none(),
        "staff": get_user_model().objects.none(),
        "confirm_by": [],
    },
}


def form_kwargs(form_class) -> dict:
    make = next((FORM_KWARGS[c.__name__] for c in form_class.__mro__ if c.__name__ in FORM_KWARGS), dict)
    return make()


def _form_ids(forms_list):
    return [f"{c.__module__}.{c.__qualname__}" for c in forms_list]


PROJECT_FORMS = project_form_classes()


def _admin_forms(request):
    """(label, form class) of every admin add/change form and every inline's form."""
    for model, model_admin in admin.site._registry.items():
        if not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)):
            continue
        label = f"admin {model._meta.label}"
        yield label, model_admin.get_form(request, None)
        for inline in model_admin.get_inline_instances(request, None):
            yield f"{label} inline {inline.model._meta.label}", inline.get_formset(request, None).form


@pytest.fixture
def admin_request(db):
    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.create_superuser("root", password="x")
    return request


# --- the tests ---------------------------------------------------------------------------------


def test_every_date_or_time_control_of_a_form_is_the_shared_iso_widget(admin_request):
    offenders = []
    classes = [(f"{c.__module__}.{c.__qualname__}", c) for c in PROJECT_FORMS]
    classes += list(_admin_forms(admin_request))
    for label, form_class in classes:
        for name, field in form_class.base_fields.items():
            for widget in _widgets(field.widget):
                kind = getattr(widget, "input_type", None)
                if kind in ISO_WIDGETS and not isinstance(widget, ISO_WIDGETS[kind]):
                    offenders.append(f"{label}.{name}: {type(widget).__name__} type={kind}")
    assert not offenders, "use config.widgets for browser date and time controls:\n" + "\n".join(offenders)


def test_no_template_writes_a_date_or_time_control_by_hand():
    pattern = re.compile(r"<input[^>]*type=[\"']?(date|time|datetime-local)\b", re.IGNORECASE)
    root = Path(settings.BASE_DIR)
    templates = list((root / "templates").rglob("*.html"))
    for app in PROJECT_APPS:
        templates += list((root / app).rglob("templates/**/*.html"))
    offenders = [
        str(path.relative_to(root))
        for path in templates
        if pattern.search(path.read_text(encoding="utf-8"))
        and str(path.relative_to(root)) not in TEMPLATE_INPUTS_ALLOWED
    ]
    assert not offenders, "render the form field ({{ form.day }}) so its widget formats the value: " + str(offenders)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("form_class", PROJECT_FORMS, ids=_form_ids(PROJECT_FORMS))
def test_every_project_form_gives_back_its_dates_and_times(form_class, language, db):
    if issubclass(form_class, forms.BaseModelForm) and form_class._meta.model is None:
        pytest.skip("a model form's base class without a model, tested through its subclasses")
    with translation.override(language):
        problems = round_trip(_builder(form_class))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_admin_form_gives_back_its_dates_and_times(admin_request, language):
    problems = []
    checked = []
    with translation.override(language):
        for label, form_class in _admin_forms(admin_request):
            if any(isinstance(f, TEMPORAL) for f in form_class.base_fields.values()):
                checked.append(label)
                problems += [f"{label}: {p}" for p in round_trip(_builder(form_class))]
    assert checked, "no admin form has a date or time field: this test lost its subject"
    assert not problems, "\n".join(problems)


def test_a_chinese_date_control_is_given_iso_and_keeps_the_birthday():
    """The reported case: a member's birthday in a Chinese change form."""
    from members.forms import MemberAdminForm
    from members.models import Member

    with translation.override("zh-hans"):
        html = str(MemberAdminForm(instance=Member(birthday=datetime.date(1988, 1, 4)))["birthday"])

    assert 'type="date"' in html
    assert 'value="1988-01-04"' in html


def test_a_time_with_seconds_is_shown_with_them_and_a_step_that_allows_them():
    with_seconds = IsoTimeInput().render("quiet_start", datetime.time(21, 0, 30))
    without = IsoDateTimeInput().render("starts_at", datetime.datetime(2026, 12, 1, 10, 0))

    assert 'value="21:00:30"' in with_seconds and 'step="1"' in with_seconds
    assert 'value="2026-12-01T10:00"' in without and "step" not in without


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_admins_own_date_and_time_boxes_give_back_seconds(language):
    from django.contrib.admin.widgets import AdminSplitDateTime

    field = forms.SplitDateTimeField(widget=AdminSplitDateTime)
    value = datetime.datetime(2026, 12, 31, 23, 59, 59, tzinfo=SHANGHAI)
    with translation.override(language):
        submission = BrowserSubmission(field.widget.render("valid_until", field.prepare_value(value)))
        again = field.clean([submission.data["valid_until_0"], submission.data["valid_until_1"]])

    assert again == value


def test_a_date_typed_the_chinese_way_is_read_in_chinese():
    with translation.override("zh-hans"):
        assert forms.DateField().clean("2026年12月1日") == datetime.date(2026, 12, 1)
        assert forms.DateTimeField().clean("2026年12月1日 09:30") == datetime.datetime(
            2026, 12, 1, 9, 30, tzinfo=SHANGHAI
        )
