import pytest

from campaigns.demo import TEMPLATES, demo_messaging
from campaigns.models import MessageTemplate
from campaigns.services.messaging import message_template_validate
from stores.demo import DemoContext, DemoOptions

pytestmark = pytest.mark.django_db


def test_the_demo_templates_are_valid_and_loaded_once(chain):
    ctx = DemoContext(options=DemoOptions(), rng=None, progress=None, staff={"marketer": chain.marketer})
    demo_messaging(ctx)
    demo_messaging(ctx)
    assert MessageTemplate.objects.count() == len(TEMPLATES)
    for template in MessageTemplate.objects.all():
        message_template_validate(
            name=template.name, channel=template.channel, subject=template.subject, body=template.body
        )
    assert ctx.summary[-1] == f"{len(TEMPLATES)} message templates (0 new)"
