"""`manage.py export_members`: output, progress bar, filters, exit codes, and no file on bad input."""

import io
from contextlib import redirect_stderr, redirect_stdout

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from members.exports import MEMBERS_EXPORTED
from members.management.commands.export_members import Command
from members.models import Member
from stores.models import AuditEntry
from tests.export_helpers import csv_dicts, xlsx_dicts
from tests.factories import MemberFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """These tests read the English messages; the chain's default language is Chinese."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def members(chain):
    vip = TagFactory(name="VIP")
    return [
        MemberFactory(phone="13812340000", name="王芳", home_store=chain.store_a, tags=[vip]),
        MemberFactory(phone="13812340001", name="王小明", home_store=chain.store_a),
        MemberFactory(phone="13812340002", name="李娜", home_store=chain.store_b, tags=[vip]),
    ]


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("export_members", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def exit_code(*args) -> tuple[int, str]:
    """Run the command as manage.py does and return its exit status and stderr.

    run_from_argv closes every database connection at the end; the test's must stay open.
    """
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        try:
            Command().run_from_argv(["manage.py", "export_members", *args])
        except SystemExit as stop:
            return stop.code, err.getvalue()
    return 0, err.getvalue()


def test_exports_to_csv_with_a_progress_bar_and_a_summary(chain, members, tmp_path):
    target = tmp_path / "members.csv"
    out, err = run(str(target), "--as", "hq_admin")
    assert "Exported 3 members to" in out and "14 columns" in out and "full phones" in out
    assert "audit entry #" in out
    assert "3/3" in err  # tqdm's bar, on stderr
    rows = csv_dicts(target.read_bytes())
    assert {r["手机号"] for r in rows} == {"13812340000", "13812340001", "13812340002"}
    (entry,) = AuditEntry.objects.filter(action=MEMBERS_EXPORTED)
    assert (entry.actor, entry.data["source"], entry.data["rows"], entry.data["filters"]) == (
        chain.hq_admin,
        "command",
        3,
        "",
    )


def test_filters_columns_xlsx_and_masking_for_a_marketer(chain, members, tmp_path):
    target = tmp_path / "vip.xlsx"
    run(
        str(target),
        "--as",
        "marketer",
        "--store",
        "SH001",
        "--tag",
        "VIP",
        "--columns",
        "phone,姓名",
        "--headers",
        "en",
    )
    assert xlsx_dicts(target.read_bytes()) == [{"phone": "138****0000", "name": "王芳"}]
    entry = AuditEntry.objects.get(action=MEMBERS_EXPORTED)
    assert entry.data["filters"] == "store=SH001&tag=VIP"
    assert (entry.data["format"], entry.data["phones"], entry.data["columns"]) == ("xlsx", "masked", ["phone", "name"])


def test_search_status_and_registration_days(chain, members, tmp_path):
    Member.objects.filter(pk=members[1].pk).update(status="frozen")
    target = tmp_path / "out.csv"
    run(str(target), "--as", "hq_admin", "--search", "王", "--status", "active", "--columns", "name")
    assert [r["姓名"] for r in csv_dicts(target.read_bytes())] == ["王芳"]
    run(str(target), "--as", "hq_admin", "--registered-to", "2001-01-01", "--columns", "name")
    assert csv_dicts(target.read_bytes()) == []
    run(str(target), "--as", "hq_admin", "--format", "xlsx", "--registered-from", "2001-01-01", "--columns", "name")
    assert len(xlsx_dicts(target.read_bytes())) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as", "nobody"], "No active staff login “nobody”"),
        (["--as", "cashier_a"], "does not allow exports"),
        (["--as", "manager_a"], "does not allow exports"),
        (["--as", "hq_admin", "--store", "XX999"], "Unknown store code “XX999”"),
        (["--as", "hq_admin", "--tag", "没有"], "Unknown tag “没有”"),
        (["--as", "hq_admin", "--columns", "phone,salary"], "Unknown column “salary”"),
        (["--as", "hq_admin", "--format", "pdf"], "Unknown format “pdf”"),
        (["--as", "hq_admin", "--registered-from", "2026-02-30"], "is not a date"),
        (
            ["--as", "hq_admin", "--registered-from", "2026-03-01", "--registered-to", "2026-02-01"],
            "is before the start date",
        ),
        (["--as", "hq_admin", "--chunk-size", "0"], "--chunk-size"),
    ],
)
def test_bad_input_is_a_clear_error_with_no_file_and_no_audit(chain, members, tmp_path, args, message):
    target = tmp_path / "members.csv"
    with pytest.raises(CommandError, match=message):
        run(str(target), *args)
    assert list(tmp_path.iterdir()) == []
    assert not AuditEntry.objects.filter(action=MEMBERS_EXPORTED).exists()


def test_a_file_name_without_a_known_extension_needs_a_format(chain, members, tmp_path):
    with pytest.raises(CommandError, match=r"name the file \.csv or \.xlsx"):
        run(str(tmp_path / "members.txt"), "--as", "hq_admin")
    run(str(tmp_path / "members.txt"), "--as", "hq_admin", "--format", "csv")
    assert len(csv_dicts((tmp_path / "members.txt").read_bytes())) == 3
    with pytest.raises(CommandError, match="does not exist"):
        run(str(tmp_path / "missing" / "members.csv"), "--as", "hq_admin")


def test_exit_codes_as_from_the_shell(chain, members, tmp_path, monkeypatch):
    monkeypatch.setattr(connections, "close_all", lambda: None)
    code, err = exit_code(str(tmp_path / "ok.csv"), "--as", "hq_admin", "-v", "0")
    assert code == 0 and (tmp_path / "ok.csv").exists()
    code, err = exit_code(str(tmp_path / "no.csv"), "--as", "cashier_a")
    assert code == 1 and "CommandError" in err and "does not allow exports" in err
    assert not (tmp_path / "no.csv").exists()
    code, err = exit_code(str(tmp_path / "no.csv"))  # --as is required
    assert code == 2 and "--as" in err


def test_help_lists_every_column(capsys):
    with pytest.raises(SystemExit) as stop:
        Command().run_from_argv(["manage.py", "export_members", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for fragment in ("--columns", "--store", "--registered-from", "积分余额", "会员等级", "--as USERNAME"):
        assert fragment in text


def test_a_failure_while_writing_leaves_no_partial_file(chain, members, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        yield [["13800138000"]]
        raise RuntimeError("disk full")

    monkeypatch.setattr("members.exports.member_export_rows", broken)
    with pytest.raises(RuntimeError):
        run(str(tmp_path / "members.csv"), "--as", "hq_admin", "--columns", "phone")
    assert list(tmp_path.iterdir()) == []
