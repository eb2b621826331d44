"""The members list renders its action checkboxes itself (members.admin.MemberAdmin.action_checkbox)
for speed; the markup must stay Django's own, which the admin's select-all and actions script reads."""

import pytest
from django.contrib import admin
from django.utils import translation

from members.admin import MemberAdmin
from members.models import Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_action_checkbox_is_the_markup_django_renders(language):
    member = MemberFactory(name="王芳", phone="13812345678")
    model_admin = MemberAdmin(Member, admin.site)
    with translation.override(language):
        ours = str(model_admin.action_checkbox(member))
        django_s = str(admin.ModelAdmin.action_checkbox(model_admin, member))
    assert ours == django_s
    assert 'name="_selected_action"' in ours and f'value="{member.pk}"' in ours
