"""What every endpoint of the REST API (DESIGN §9) shares: the error shape, the exception handler,
the JSON parser with its size limit, the base view, and how stores and members are addressed.

Every error is `{"code": "...", "message": "...", "field": "..." | null}` with a 4xx status:

- django ValidationError from a service → 400 with its code, message and field (the first one);
- DRF ValidationError from a serializer → 400 with the first error's code and its dotted field
  path ("lines.0.quantity");
- PermissionDenied → 403 "forbidden"; not logged in → 401 "not_authenticated";
- unknown store / member / sale → 404 "store_not_found" / "member_not_found" / "sale_not_found";
- a phone where an address wants a member code → 400 "phone_in_path"; a lookup by phone or name
  asked with GET → 405 "lookup_by_post" (phones travel in bodies, never in URLs);
- a request id used for something else → 409 "request_id_reused";
- malformed JSON → 400 "parse_error"; a body over 1 MB → 413 "payload_too_large";
- the database cannot be reached → 503 "service_unavailable" with Retry-After, on every path (API,
  tablet, back office; config/middleware.py and server_error below): the tablet keeps the sale queued
  and sends it again.
- too many calls (config.throttling) → 429 "throttled" with Retry-After; a manager's approval from a
  locked account or address → 429 "approver_locked".

Anything else is a bug: the handler returns None and DRF lets it surface as a 500, logged.
"""

import codecs
import json
import logging
import sys

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.template import loader
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView, set_rollback

from config.throttling import retry_after
from members.codes import is_member_code
from members.models import Member
from members.phones import normalize_phone
from members.selectors import member_by_code, member_by_reference
from stores.models import Store

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# What a 503 answers while the database cannot be reached: come back in this many seconds.
RETRY_AFTER_SECONDS = 30

# Service error codes whose status is not 400.
STATUS_BY_CODE = {
    "request_id_reused": status.HTTP_409_CONFLICT,
    "approval_invalid": status.HTTP_403_FORBIDDEN,
}


class ApiError(exceptions.APIException):
    """An error the API answers on purpose, with its own code, field and status."""

    def __init__(self, message: str, *, code: str, field: str | None = None, status_code: int = 400, retry_after=None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.field = field
        self.retry_after = retry_after


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("The request body is larger than 1 MB.")
    default_code = "payload_too_large"


def not_found(code: str, message: str, field: str | None = None) -> ApiError:
    return ApiError(message, code=code, field=field, status_code=status.HTTP_404_NOT_FOUND)


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer (for the OpenAPI schema)."""

    code = serializers.CharField(help_text="Machine-readable, e.g. insufficient_points.")
    message = serializers.CharField(help_text="For people, in the request's language.")
    field = serializers.CharField(allow_null=True, help_text='The input field at fault ("lines.0.quantity"), or null.')


ERROR_RESPONSES = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    413: ErrorSerializer,
    429: ErrorSerializer,
}


def error_body(code: str, message, field: str | None = None) -> dict:
    return {"code": code, "message": str(message), "field": field}


class LimitedJSONParser(JSONParser):
    """JSON only, at most MAX_BODY_BYTES, NaN/Infinity refused, nesting too deep is a parse error."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        if request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > MAX_BODY_BYTES:
                raise PayloadTooLarge()
        raw = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding).removeprefix("\ufeff")  # a BOM from Windows tools is harmless
            return json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError, LookupError) as exc:
            raise exceptions.ParseError(_("The body is not valid JSON.")) from exc


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


class ApiView(APIView):
    """The base of every endpoint: JSON in and out, and service field names mapped to the API's."""

    parser_classes = [LimitedJSONParser]
    renderer_classes = [JSONRenderer]
    # A service may call a field differently from the API's input ("coupon" → "coupon_code").
    service_fields: dict[str, str] = {}


def _first_django_error(exc: DjangoValidationError) -> tuple[str, str, str | None]:
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        error = errors[0]
    else:
        field, error = None, exc.error_list[0]
    message = error.message
    if error.params:
        message = message % error.params
    return error.code or "invalid", str(message), None if field == NON_FIELD_ERRORS else field


def _first_drf_error(detail, path=()) -> tuple[tuple, ErrorDetail] | None:
    if isinstance(detail, dict):
        for key, value in detail.items():
            found = _first_drf_error(value, (*path, key))
            if found:
                return found
        return None
    if isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, str):
                return path, item
            found = _first_drf_error(item, (*path, index))
            if found:
                return found
        return None
    if isinstance(detail, str):
        return path, detail
    return None


def _dotted(path: tuple) -> str | None:
    parts = [str(p) for p in path if p not in (api_settings.NON_FIELD_ERRORS_KEY, NON_FIELD_ERRORS)]
    return ".".join(parts) or None


def _respond(status_code: int, code: str, message, field: str | None = None, headers=None) -> Response:
    set_rollback()
    return Response(error_body(code, message, field), status=status_code, headers=headers)


def api_exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every expected failure as {code, message, field}."""
    view = context.get("view")
    renames = getattr(view, "service_fields", {}) or {}

    if isinstance(exc, ApiError):
        headers = {"Retry-After": retry_after(exc.retry_after)} if exc.retry_after is not None else None
        return _respond(exc.status_code, exc.code, exc.detail, exc.field, headers=headers)
    if isinstance(exc, exceptions.Throttled):
        seconds = retry_after(exc.wait)
        message = _("Too many requests. Try again in %(seconds)s seconds.") % {"seconds": seconds}
        return _respond(429, "throttled", message, headers={"Retry-After": seconds})
    if isinstance(exc, DjangoValidationError):
        code, message, field = _first_django_error(exc)
        return _respond(STATUS_BY_CODE.get(code, 400), code, message, renames.get(field, field))
    if isinstance(exc, exceptions.ValidationError):
        found = _first_drf_error(exc.detail)
        if found is None:
            return _respond(400, "invalid", _("Invalid input."))
        path, detail = found
        return _respond(400, getattr(detail, "code", None) or "invalid", detail, _dotted(path))
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        code = "not_authenticated" if isinstance(exc, exceptions.NotAuthenticated) else "authentication_failed"
        return _respond(401, code, exc.detail, headers={"WWW-Authenticate": 'Token realm="api"'})
    if isinstance(exc, (DjangoPermissionDenied, exceptions.PermissionDenied)):
        message = exc.detail if isinstance(exc, exceptions.PermissionDenied) else (str(exc) or _("Forbidden."))
        return _respond(403, "forbidden", message)
    if isinstance(exc, (Http404, exceptions.NotFound)):
        return _respond(404, "not_found", _("Not found."))
    if isinstance(exc, RequestDataTooBig):
        return _respond(413, "payload_too_large", PayloadTooLarge.default_detail)
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "wait", None):
            headers["Retry-After"] = retry_after(exc.wait)
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        return _respond(exc.status_code, code, exc.detail, headers=headers)
    return None


# Errors Django answers itself (a bad URL, a body Django refuses, a refusal, a crash): JSON under /api/;
# under /tablet/ the error page carries a way back to the till, since a tablet has no address bar.


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _till_url(request) -> str:
    till = reverse("tablet:find")
    return till if request.path.startswith(till) else ""


def _tablet_error_page(request, template_name: str, status_code: int, context: dict) -> HttpResponse:
    # The crash page is drawn without the request: its context processors could be what failed.
    template = loader.get_template(template_name)
    body = template.render({**context, "till_url": _till_url(request)}, None if status_code == 500 else request)
    return HttpResponse(body, status=status_code)


def bad_request(request, exception=None):
    from django.views.defaults import bad_request as django_bad_request

    if _till_url(request):
        return _tablet_error_page(request, "400.html", 400, {})
    if not _is_api(request):
        return django_bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(error_body("payload_too_large", PayloadTooLarge.default_detail), status=413)
    return JsonResponse(error_body("bad_request", _("Bad request.")), status=400)


def permission_denied(request, exception=None):
    from django.views.defaults import permission_denied as django_permission_denied

    if _till_url(request):
        return _tablet_error_page(request, "403.html", 403, {"exception": str(exception or "")})
    return django_permission_denied(request, exception)


def page_not_found(request, exception=None):
    from django.views.defaults import page_not_found as django_page_not_found

    if _till_url(request):
        return _tablet_error_page(request, "404.html", 404, {})
    if not _is_api(request):
        return django_page_not_found(request, exception)
    return JsonResponse(error_body("not_found", _("There is no such API address.")), status=404)


def is_database_unavailable(exc) -> bool:
    """The database did not answer (refused, lost, restarting, locked …): a moment later it may."""
    return isinstance(exc, (OperationalError, InterfaceError))


def database_unavailable(request) -> HttpResponse:
    """503 with Retry-After: JSON under /api/, a page elsewhere (one back to the till on the tablet)."""
    if _is_api(request):
        message = _("The database cannot be reached just now. Try again in a moment.")
        response = JsonResponse(error_body("service_unavailable", message), status=503)
    else:
        # Drawn without the request, as the crash page is: its context processors would ask the database.
        body = loader.get_template("503.html").render({"till_url": _till_url(request)})
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request):
    from django.views.defaults import server_error as django_server_error

    # What failed outside a view (a middleware saving the session …) reaches only this handler.
    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable(request)

    if _till_url(request):
        return _tablet_error_page(request, "500.html", 500, {})
    if not _is_api(request):
        return django_server_error(request)
    return JsonResponse(
        error_body("server_error", _("Something went wrong on our side; it has been logged.")), status=500
    )


# Addressing stores and members.


def store_from_code(code: str | None, *, field: str = "store") -> Store:
    store = Store.objects.filter(code=code).first() if code else None
    if store is None:
        message = _("There is no store with the code “%(code)s”.") % {"code": str(code)[:32]}
        raise not_found("store_not_found", message, field)
    return store


def optional_store(code: str | None, *, field: str = "store") -> Store | None:
    return store_from_code(code, field=field) if code else None


def member_from_reference(reference: str | None, *, field: str = "member") -> Member:
    member = member_by_reference(reference) if reference else None
    if member is None:
        raise not_found("member_not_found", _("No member has this member code or phone number."), field)
    return member


MEMBER_CODE_IN_PATH = "Member code (10 digits starting with 9). Never a phone: POST phones to /api/v1/members/lookup/."


def member_from_path(reference: str) -> Member:
    """The member a URL names: by member code only (DESIGN §10). A phone in a path would sit in every
    proxy's and server's access log, so one is refused with where to send it instead."""
    reference = (reference or "").strip()
    if is_member_code(reference):
        member = member_by_code(reference)
        if member is not None:
            return member
        raise not_found("member_not_found", _("No member has this member code."))
    if _looks_like_phone(reference):
        raise ApiError(
            _(
                "Members are addressed by member code in an address, never by phone: find the member by phone "
                "with POST /api/v1/members/lookup/ and use the member code it answers."
            ),
            code="phone_in_path",
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    raise not_found("member_not_found", _("No member has this member code."))


def _looks_like_phone(text: str) -> bool:
    try:
        normalize_phone(text)
    except DjangoValidationError:
        return False
    return True
