import pytest

from campaigns.models import Message, MessageTemplate
from tests.browser.test_back_office import log_in
from tests.factories import MemberFactory
from tests.factories.campaigns import MessageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_writes_a_template_clicking_variables_in_then_previews_it(
    live_server, chain, tablet_page, screenshot, settings, tmp_path
):
    settings.MESSAGE_FILE_PATH = tmp_path / "outbox.jsonl"
    member = MemberFactory(phone="13812345678", name="王芳", marketing_consent=True)
    page = tablet_page("zh-CN")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/messagetemplate/add/")
    page.fill("#id_name", "积分提醒")
    page.select_option("#id_channel", "sms")
    page.fill("#id_body", "您好，您有积分")
    # Clicking a variable puts it where the cursor is, and the length follows the text
    page.click("#id_body")
    page.keyboard.press("End")
    page.click("button.insert[data-variable='points']")
    assert page.input_value("#id_body") == "您好，您有积分{points}"
    assert page.text_content("#message-length").startswith(str(len("您好，您有积分{points}") + len(" 回T退订")))
    screenshot(page, "admin-message-template-zh")
    # A variable that does not exist is refused on the page
    page.fill("#id_body", "{name}您好，送您{gift}")
    page.click("input[name=_save]")
    page.wait_for_selector(".errorlist")
    assert "{gift}" in page.text_content(".field-body .errorlist")
    assert not MessageTemplate.objects.exists()
    page.fill("#id_body", "{name}您好，您有{points}积分")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    template = MessageTemplate.objects.get()
    # The preview renders it for a member, phone masked
    page.goto(f"{live_server.url}/admin/campaigns/messagetemplate/{template.pk}/change/")
    page.click("a.message-preview")
    page.fill("#id_member", member.code)
    page.click("input[type=submit][value]")
    page.wait_for_selector("#preview-member")
    assert page.text_content("#preview-body") == "王芳您好，您有0积分 回T退订"
    assert "138****5678" in page.text_content("#preview-member")
    screenshot(page, "admin-message-preview-zh")


def test_the_outbox_at_1024_pixels(live_server, chain, tablet_page, screenshot):
    member = MemberFactory(phone="13812345678", name="王芳", marketing_consent=True)
    for status in ("queued", "sent", "failed", "no_consent"):
        MessageFactory(member=member, status=status, sent_at=member.registered_at if status == "sent" else None)
    page = tablet_page("zh-CN")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/message/")
    page.wait_for_selector("#status-counts")
    assert "138****5678" in page.text_content("#result_list")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1024, f"the outbox scrolls sideways ({width} px)"
    overflow = page.evaluate(
        "(() => { const r = document.querySelector('#changelist .results'); return r.scrollWidth - r.clientWidth; })()"
    )
    assert overflow <= 0, f"the outbox's columns do not fit ({overflow} px more)"
    screenshot(page, "admin-outbox-zh")
    page.click("#result_list tbody tr:first-child th a, #result_list tbody tr:first-child td a")
    screenshot(page, "admin-outbox-message-zh")
    assert Message.objects.count() == 4
