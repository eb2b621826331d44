"""Who calls the API: integrations with a token (django-rest-knox, hashed, expiring, revocable), the
tablet with its session. Wrong tokens are counted by address and refused past their rate."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header
from rest_framework.permissions import BasePermission

from config.throttling import BadTokenThrottle
from stores.models import IntegrationToken

# "Last used" is written at most this often per token: a busy integration must not write on every call.
LAST_USED_EVERY = timedelta(minutes=1)


class IntegrationTokenAuthentication(TokenAuthentication):
    """Knox's token authentication, except that an expired or revoked token is kept (HQ sees it in the
    back office and the account stays an integration's) rather than deleted, and that the time a token
    was last used is recorded."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"token":
            return None  # the tablet's session, or no credentials at all
        throttle = BadTokenThrottle()
        if throttle.blocked(request):
            raise exceptions.Throttled(wait=throttle.wait())
        try:
            return super().authenticate(request)
        except (exceptions.AuthenticationFailed, UnicodeError) as error:  # knox decodes the token as UTF-8
            throttle.failed(request)
            raise exceptions.AuthenticationFailed(
                _("This token is not valid: it is wrong, has expired or was revoked.")
            ) from error

    def _cleanup_token(self, auth_token: IntegrationToken) -> bool:
        # True skips the token: as if it did not match.
        return auth_token.revoked_at is not None or auth_token.expiry <= timezone.now()

    def validate_user(self, auth_token: IntegrationToken):
        user, token = super().validate_user(auth_token)
        now = timezone.now()
        if token.last_used_at is None or token.last_used_at <= now - LAST_USED_EVERY:
            IntegrationToken.objects.filter(pk=token.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_EVERY)
            ).update(last_used_at=now)
        return user, token

    def authenticate_header(self, request) -> str:
        return "Token"


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the integration token."""

    target_class = IntegrationTokenAuthentication
    name = "integrationToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'An integration token made in the back office, sent as "Token <token>".',
        }


class StaffOrIntegration(BasePermission):
    """The API's schema and docs: HQ staff logged in to the back office, or an integration's token."""

    message = gettext_lazy("Log in to the back office, or send an integration token, to read the API's schema.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        return user.is_staff or isinstance(request.auth, IntegrationToken)
