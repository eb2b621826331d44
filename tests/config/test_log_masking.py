"""No full phone in any log (DESIGN §10, issue 17): a filter on every handler masks them, in Django's logs
and gunicorn's, and a whole day at the till logged at DEBUG (queries with their parameters included)
leaves none behind."""

import importlib.util
import io
import logging
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files import File
from django.test import TestCase
from rest_framework.test import APIClient

from config.log_filters import GUNICORN_ACCESS_LOG_FORMAT, PhoneMaskingFilter, mask_phones
from members.imports.jobs import import_job_create, import_job_run
from tests.api.conftest import sale_payload
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory
from tests.members.import_support import write_csv

ROOT = Path(__file__).resolve().parents[2]
FULL_PHONE = re.compile(r"(?<!\d)1[3-9]\d[\s\-]?\d{4}[\s\-]?\d{4}(?!\d)")


def _record(msg, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("test", logging.WARNING, __file__, 1, msg, args, exc_info)


def _formatted(record: logging.LogRecord) -> str:
    PhoneMaskingFilter().filter(record)
    return logging.Formatter().format(record)


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("13912345678", "139****5678"),
        ("+8613912345678", "+86139****5678"),
        ("+86 139-1234-5678", "+86 139****5678"),
        ("/tablet/?q=139%201234%205678", "/tablet/?q=139****5678"),
        ("/api/v1/members/%2B8613912345678/", "/api/v1/members/%2B86139****5678/"),
        ("q=139+1234+5678&go=1", "q=139****5678&go=1"),
    ],
)
def test_a_phone_however_written_keeps_only_its_first_three_and_last_four_digits(written, masked):
    assert mask_phones(written) == masked


def test_longer_numbers_and_member_codes_are_left_alone():
    for text in ("1733581234567", "sale 9123456789", "order 213912345678", "2026-12-07 14:00:01"):
        assert mask_phones(text) == text


def test_the_filter_masks_the_message_its_arguments_and_the_traceback():
    try:
        raise ValueError("no member +8613912345678")
    except ValueError:
        import sys

        record = _record("lookup %s", "13912345678", exc_info=sys.exc_info())

    text = _formatted(record)

    assert "139****5678" in text and "ValueError: no member +86139****5678" in text
    assert not FULL_PHONE.search(text)
    assert record.args is None


def test_the_filter_reads_gunicorns_access_atoms():
    atoms = {"h": "10.0.0.1", "r": "GET /api/v1/members/lookup/?q=13912345678 HTTP/1.1", "s": "405"}
    record = _record('%(h)s "%(r)s" %(s)s', atoms)

    assert _formatted(record) == '10.0.0.1 "GET /api/v1/members/lookup/?q=139****5678 HTTP/1.1" 405'


def test_every_handler_of_the_settings_masks_phones():
    config = settings.LOGGING
    for name, handler in config["handlers"].items():
        assert "mask_phones" in handler.get("filters", []), name
    assert config["filters"]["mask_phones"]["()"] == "config.log_filters.PhoneMaskingFilter"
    # Django's own loggers use them, not its unfiltered defaults.
    for logger in logging.getLogger("django"), logging.getLogger("django.server"), logging.getLogger():
        for handler in _configured(logger):
            assert any(isinstance(f, PhoneMaskingFilter) for f in handler.filters), (logger.name, handler)


def test_gunicorn_logs_through_the_filter_in_the_documented_format():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "config" / "gunicorn.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)

    for name, handler in conf.logconfig_dict["handlers"].items():
        assert "mask_phones" in handler["filters"], name
    assert conf.logconfig_dict["loggers"]["gunicorn.access"]["handlers"] == ["access"]
    assert conf.access_log_format == GUNICORN_ACCESS_LOG_FORMAT
    assert GUNICORN_ACCESS_LOG_FORMAT in (ROOT / "README.md").read_text()
    assert "-c config/gunicorn.py" in (ROOT / "Makefile").read_text()


def _configured(logger: logging.Logger) -> list[logging.Handler]:
    # pytest adds its own capturing handlers to the root logger during a test.
    return [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]


def test_celery_workers_and_beat_log_through_the_same_filtered_handlers():
    from celery.signals import setup_logging

    from config.celery import use_project_logging

    assert any(receiver() is use_project_logging for _key, receiver in setup_logging.receivers)
    use_project_logging()
    for handler in _configured(logging.getLogger()):
        assert any(isinstance(f, PhoneMaskingFilter) for f in handler.filters), handler


@pytest.fixture
def logs():
    """Everything the configured handlers write, at DEBUG."""
    buffer = io.StringIO()
    handlers = [h for name in ("", "django.server") for h in _configured(logging.getLogger(name))]
    assert handlers
    streams = [h.setStream(buffer) for h in handlers]
    levels = {name: logging.getLogger(name).level for name in ("", "django", "django.db.backends")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield buffer
    for handler, stream in zip(handlers, streams, strict=True):
        handler.setStream(stream)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.django_db
def test_a_day_at_the_till_and_in_the_back_office_leaves_no_full_phone_in_the_logs(chain, logs, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    LoyaltySettingsFactory()
    EarningRuleFactory()
    till, hq = APIClient(), APIClient()
    till.force_login(chain.cashier_a)
    hq.force_login(chain.hq_admin)

    with TestCase.captureOnCommitCallbacks(execute=True):
        registered = till.post(
            "/api/v1/members/", {"phone": "139 1234 5678", "name": "陈静", "store": "SH001"}, format="json"
        )
        code = registered.json()["code"]
        till.post("/api/v1/members/lookup/", {"q": "13912345678"}, format="json")
        till.get("/api/v1/members/lookup/", {"q": "13912345678"})  # refused: 405, logged
        till.get("/api/v1/members/+8613912345678/")  # refused: 400, logged with its path
        till.post("/api/v1/sales/", sale_payload(member=code, amount="88.00"), format="json")
        hq.post("/admin/members/member/", {"q": "13912345678"}, follow=True)
    csv = write_csv(tmp_path / "bad.csv", [["13687654321", "李娜", "不男不女", *[""] * 8]])
    with csv.open("rb") as upload:
        job = import_job_create(
            actor=chain.hq_admin,
            upload=File(upload, name="bad.csv"),
            mode="skip_bad_rows",
            dry_run=False,
            language="en",
        )
    import_job_run(job_id=job.pk)
    with TestCase.captureOnCommitCallbacks(execute=True):
        exported = hq.post(
            "/admin/members/member/export/", {"columns": ["phone", "name"], "fmt": "csv", "headers": "zh"}
        )
        b"".join(exported.streaming_content) if exported.streaming else exported.content

    written = logs.getvalue()
    assert "SELECT" in written  # the queries were logged, with their parameters
    assert "139****5678" in written
    assert not FULL_PHONE.search(written), FULL_PHONE.search(written)
