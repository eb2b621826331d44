"""Messaging in the back office: message templates (checked as they are typed in, with the variables they
may use), a preview of a template for a member with a "send me a test" button, and the outbox (read
only: what was queued, to whom, with which status, and the text as it was rendered).

Saving goes through campaigns.services.messaging; the pages check and show.
"""

import uuid
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.messaging.render import EMAIL_SUBJECT_MAX, body_limit, sms_opt_out_text
from campaigns.messaging.variables import known_variables
from campaigns.models import Message, MessageChannel, MessageTemplate
from campaigns.selectors.messaging import message_preview, message_status_counts, outbox
from campaigns.services.messaging import message_send_test, message_template_save, message_template_validate
from config.pagination import EstimatedCountPaginator
from members.models import Member
from members.phones import sees_full_phones, shown_phone
from members.selectors import member_by_reference, member_search_filter
from stores.permissions import staff_can
from stores.roles import Action
from stores.services import audit_record


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def _may_see_full_phones(request) -> bool:
    return sees_full_phones(request.user)


def _recipient(channel: str, recipient: str, full: bool) -> str:
    if channel == MessageChannel.SMS:
        return shown_phone(recipient, full=full)
    return recipient


def _shown_recipient(message: Message, full: bool) -> str:
    if not message.recipient:
        return "—"
    return _recipient(message.channel, message.recipient, full)


# --- templates -----------------------------------------------------------------------------------


class MessageTemplateForm(forms.ModelForm):
    """The template's fields, checked by the service's own validation so the page says what it would."""

    class Meta:
        model = MessageTemplate
        fields = ["name", "channel", "subject", "body", "wechat_template_id"]
        widgets = {"body": forms.Textarea(attrs={"rows": 6, "cols": 60, "class": "vLargeTextField message-text"})}

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            message_template_validate(
                name=data.get("name", ""),
                channel=data.get("channel", ""),
                body=data.get("body", ""),
                subject=data.get("subject", ""),
                wechat_template_id=data.get("wechat_template_id", ""),
            )
        except ValidationError as error:
            for field_name, errors in error.error_dict.items():
                self.add_error(field_name if field_name in self.fields else None, errors)
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    change_form_template = "admin/campaigns/messagetemplate/change_form.html"
    list_display = ["name", "channel", "text_start", "updated_at"]
    list_filter = ["channel"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "channel"]}),
        (_("Message"), {"fields": ["subject", "body", "wechat_template_id"]}),
    ]

    @admin.display(description=_("text"))
    def text_start(self, template: MessageTemplate) -> str:
        return template.body if len(template.body) <= 40 else template.body[:39] + "…"

    def _extra(self, request, extra_context=None) -> dict:
        return {
            "known_variables": known_variables(),
            "sms_limit": body_limit(MessageChannel.SMS),
            "wechat_limit": body_limit(MessageChannel.WECHAT),
            "email_subject_limit": EMAIL_SUBJECT_MAX,
            "opt_out_text": sms_opt_out_text(),
            **(extra_context or {}),
        }

    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url, self._extra(request, extra_context))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return super().change_view(request, object_id, form_url, self._extra(request, extra_context))

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = message_template_save(
            actor=request.user,
            template=obj if change else None,
            name=data["name"],
            channel=data["channel"],
            subject=data.get("subject", ""),
            body=data["body"],
            wechat_template_id=data.get("wechat_template_id", ""),
        )
        obj.pk, obj._state = saved.pk, saved._state
        obj.__dict__.update({f: getattr(saved, f) for f in ("name", "channel", "subject", "body", "updated_at")})

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit_record(
                actor=request.user, action="campaigns.message_template_deleted", target=obj, data={"name": obj.name}
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                audit_record(
                    actor=request.user, action="campaigns.message_template_deleted", target=obj, data={"name": obj.name}
                )
            super().delete_queryset(request, queryset)

    def get_urls(self):
        view = self.admin_site.admin_view(partial(template_preview_view, model_admin=self))
        return [path("<int:template_id>/preview/", view, name="campaigns_messagetemplate_preview"), *super().get_urls()]


class PreviewForm(forms.Form):
    member = forms.CharField(
        label=_("Member"),
        max_length=64,
        required=False,
        help_text=_("Member code or phone. Empty: the variables' example values."),
    )


def _member_or_error(form: PreviewForm) -> Member | None:
    reference = form.cleaned_data.get("member", "").strip()
    if not reference:
        return None
    member = member_by_reference(reference)
    if member is None:
        form.add_error("member", gettext("No member has this member code or phone number."))
    return member


def template_preview_view(request, template_id: int, *, model_admin):
    """The template rendered for a member, and a button that queues it to the staff member's own address."""
    if not staff_can(request.user, Action.MANAGE_CAMPAIGNS):
        raise PermissionDenied
    template = get_object_or_404(MessageTemplate, pk=template_id)
    here = reverse("admin:campaigns_messagetemplate_preview", args=[template.pk])
    # "Show" POSTs too: a member may be typed by phone, which must not land in the address (issue 17).
    showing = request.method == "POST" and "show" in request.POST
    if request.method == "POST" and not showing:
        form = PreviewForm(request.POST)
        member = _member_or_error(form) if form.is_valid() else None
        if form.is_valid():
            try:
                message = message_send_test(
                    template=template, member=member, actor=request.user, request_id=request.POST.get("request_id", "")
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                url = reverse("admin:campaigns_message_change", args=[message.pk])
                messages.success(
                    request,
                    format_html(
                        gettext(
                            'A test is queued to your address {address}: <a href="{url}">follow it in the outbox</a>.'
                        ),
                        address=_shown_recipient(message, _may_see_full_phones(request)),
                        url=url,
                    ),
                )
            # Back to the preview of the member by code, whatever was typed (a phone stays out of the address).
            query = urlencode({"member": member.code}) if member is not None else ""
            return HttpResponseRedirect(f"{here}?{query}" if query else here)
    form = PreviewForm(request.POST if showing else (request.GET or None))
    member = _member_or_error(form) if form.is_valid() else None
    preview = message_preview(template=template, member=member)
    full = _may_see_full_phones(request)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": gettext("Preview of “%(template)s”") % {"template": template.name},
        "opts": model_admin.opts,
        "template_obj": template,
        "form": form,
        "member": member,
        "member_phone": shown_phone(member.phone, full=full) if member else "",
        "preview": preview,
        "recipient": _recipient(template.channel, preview.recipient, full) if preview.recipient else "",
        "status_label": Message.Status(preview.status).label if preview.status else "",
        "request_id": uuid.uuid4().hex,
        "change_url": reverse("admin:campaigns_messagetemplate_change", args=[template.pk]),
    }
    return TemplateResponse(request, "admin/campaigns/messagetemplate/preview.html", context)


# --- the outbox ----------------------------------------------------------------------------------


class MessageAdmin(admin.ModelAdmin):
    """The outbox, read-only: rows change only through the queue and the sender."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # Facet counts run one COUNT per filter choice over the whole table: too slow on an outbox.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    change_list_template = "admin/campaigns/message/change_list.html"
    list_display = ["created", "member_shown", "to_masked", "channel", "status", "when", "attempts", "why"]
    list_select_related = ["member", "campaign", "automation"]
    list_filter = [
        "status",
        "channel",
        "purpose",
        # Every campaign and automation (small tables), not only those with messages: that would be a
        # DISTINCT over the whole outbox.
        ("campaign", admin.RelatedFieldListFilter),
        ("automation", admin.RelatedFieldListFilter),
    ]
    # The search itself is member_search_filter on the message's member; listing a field shows the box.
    search_fields = ["pk"]
    search_help_text = _("Member code, full phone number, or the start of a phone number or name.")
    fieldsets = [
        (None, {"fields": ["member_shown", "channel", "purpose", "status", "to_masked", "text"]}),
        (
            _("Sending"),
            {
                "fields": [
                    "key",
                    "send_after_shown",
                    "quiet_hours",
                    "attempts",
                    "last_attempt_shown",
                    "error",
                    "provider_id",
                    "sent_shown",
                ]
            },
        ),
        (_("Why"), {"fields": ["template", "campaign", "automation", "created_shown"]}),
    ]
    readonly_fields = [
        "member_shown",
        "channel",
        "purpose",
        "status",
        "to_masked",
        "to_full",
        "text",
        "key",
        "send_after_shown",
        "quiet_hours",
        "attempts",
        "last_attempt_shown",
        "error",
        "provider_id",
        "sent_shown",
        "template",
        "campaign",
        "automation",
        "created_shown",
    ]

    def get_queryset(self, request):
        return outbox()

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        condition = member_search_filter(search_term)
        if condition is None:
            return queryset, False
        return queryset.filter(member__in=Member.objects.filter(condition).values("pk")), False

    # Staff who may not see full phone numbers (the marketer) see SMS recipients masked.

    def _phone_field(self, request, names):
        if not _may_see_full_phones(request):
            return list(names)
        return ["to_full" if name == "to_masked" else name for name in names]

    def get_list_display(self, request):
        return self._phone_field(request, super().get_list_display(request))

    def get_fieldsets(self, request, obj=None):
        return [
            (title, {**options, "fields": self._phone_field(request, options["fields"])})
            for title, options in super().get_fieldsets(request, obj)
        ]

    def changelist_view(self, request, extra_context=None):
        # The outbox needs the width of a 1024-pixel screen for its columns and filters: no app navigation.
        extra_context = {"is_nav_sidebar_enabled": False, **(extra_context or {})}
        response = super().changelist_view(request, extra_context)
        cl = response.context_data.get("cl") if hasattr(response, "context_data") else None
        if cl is not None:
            counts = message_status_counts(cl.queryset)
            params = {k: v for k, v in request.GET.items() if k not in ("status__exact", "p")}
            response.context_data["status_counts"] = [
                {
                    "status": status,
                    "label": label,
                    "count": counts[status],
                    "url": "?" + urlencode({**params, "status__exact": status}),
                    "selected": request.GET.get("status__exact") == status,
                }
                for status, label in Message.Status.choices
            ]
            response.context_data["status_total"] = sum(counts.values())
        return response

    def get_object(self, request, object_id, from_field=None):
        try:
            return self.get_queryset(request).get(pk=int(object_id))
        except (Message.DoesNotExist, ValueError, TypeError):
            return None

    # Columns and fields

    @admin.display(description=_("created"), ordering="created_at")
    def created(self, message: Message):
        day, _space, minute = _local(message.created_at).partition(" ")
        return format_html('<span class="nowrap">{}</span><br>{}', day, minute)

    @admin.display(description=_("sent, or due"), ordering="send_after")
    def when(self, message: Message):
        if message.sent_at:
            return format_html('{}<br><span class="nowrap">{}</span>', gettext("sent"), _local(message.sent_at))
        if message.status in (Message.Status.QUEUED, Message.Status.SENDING):
            return format_html('{}<br><span class="nowrap">{}</span>', gettext("due"), _local(message.send_after))
        return "—"

    @admin.display(description=_("member"), ordering="member_id")
    def member_shown(self, message: Message):
        url = reverse("admin:members_member_change", args=[message.member_id])
        return format_html(
            '<a href="{}">{}</a><br><span class="nowrap">{}</span>', url, message.member.name, message.member.code
        )

    @admin.display(description=_("why"))
    def why(self, message: Message):
        if message.campaign_id:
            return format_html("{}<br>{}", gettext("Campaign"), message.campaign.name)
        if message.automation_id:
            return format_html("{}<br>{}", gettext("Automation"), message.automation.name)
        return message.get_purpose_display()

    @admin.display(description=_("to"))
    def to_masked(self, message: Message):
        return _shown_recipient(message, False)

    @admin.display(description=_("to"))
    def to_full(self, message: Message):
        return _shown_recipient(message, True)

    @admin.display(description=_("text"))
    def text(self, message: Message):
        subject = format_html("<strong>{}</strong><br>", message.subject) if message.subject else ""
        return format_html(
            '<div class="message-text" style="white-space: pre-wrap; max-width: 40em">{}{}</div>', subject, message.body
        )

    @admin.display(description=_("quiet hours"))
    def quiet_hours(self, message: Message):
        if message.quiet_start is None:
            return "—"
        return f"{message.quiet_start:%H:%M}–{message.quiet_end:%H:%M}"

    @admin.display(description=_("send after"))
    def send_after_shown(self, message: Message):
        return _local(message.send_after)

    @admin.display(description=_("last attempt"))
    def last_attempt_shown(self, message: Message):
        return _local(message.last_attempt_at)

    @admin.display(description=_("sent at"))
    def sent_shown(self, message: Message):
        return _local(message.sent_at)

    @admin.display(description=_("created"))
    def created_shown(self, message: Message):
        return _local(message.created_at)


admin.site.register(Message, MessageAdmin)
