"""`manage.py import_members FILE`: exit codes, summary, progress bar and error report."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from loyalty.models import LoyaltySettings, PointsEntry
from members.models import Member
from stores.models import AuditEntry
from tests.members.import_support import write_csv

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def policy(db):
    return LoyaltySettings.current()


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_members", *args, "--language", "en", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_help_describes_the_options():
    result = subprocess.run(
        [sys.executable, "manage.py", "import_members", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0
    for option in ("--dry-run", "--skip-bad-rows", "--as USERNAME", "--error-report FILE"):
        assert option in result.stdout


def test_a_good_file_is_imported_with_a_summary_and_a_progress_bar(tmp_path, chain, policy):
    path = write_csv(tmp_path / "ok.csv", [["13800138000", "王芳", "女", "", "", "SH001", "", "", "100", "", ""]])
    out, err = run(str(path), "--as", "hq_admin")
    assert "Imported: ok.csv (utf-8), 1 rows" in out
    assert "created 1, updated 0, unchanged 0, rejected 0" in out
    assert "Opening points: 1 members, 100 points" in out
    assert "100%" in err  # tqdm's bar, by bytes read
    assert Member.objects.get().registered_by == chain.hq_admin
    assert AuditEntry.objects.get(action="members.imported").actor == chain.hq_admin


def test_rejected_rows_exit_non_zero_with_their_lines_and_write_nothing(tmp_path, chain, policy):
    path = write_csv(
        tmp_path / "bad.csv",
        [["13800138000", "王芳", *[""] * 9], ["12", "李娜", *[""] * 9], ["13700137000", "", *[""] * 9]],
    )
    report = tmp_path / "errors.csv"
    err = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command(
            "import_members",
            str(path),
            "--error-report",
            str(report),
            "--language",
            "en",
            stdout=io.StringIO(),
            stderr=err,
        )
    assert error.value.returncode == 1
    assert "2 of 3 rows rejected; nothing was written" in str(error.value)
    assert "line 3: 手机号: “12” is not a valid phone number." in err.getvalue()
    assert "line 4: A new member needs a name." in err.getvalue()
    assert Member.objects.count() == 0
    assert report.read_text(encoding="utf-8-sig").splitlines()[1].startswith("3,")


def test_skip_bad_rows_writes_the_good_ones_and_still_exits_non_zero(tmp_path, chain):
    path = write_csv(tmp_path / "skip.csv", [["13800138000", "王芳", *[""] * 9], ["12", "李娜", *[""] * 9]])
    with pytest.raises(CommandError) as error:
        run(str(path), "--skip-bad-rows")
    assert error.value.returncode == 1 and "1 of 2 rows rejected" in str(error.value)
    assert Member.objects.get().name == "王芳"


def test_a_dry_run_writes_nothing(tmp_path, chain, policy):
    path = write_csv(tmp_path / "dry.csv", [["13800138000", "王芳", *[""] * 6, "10", "", ""]])
    out, _err = run(str(path), "--dry-run")
    assert "Dry run, nothing written" in out and "would be created 1" in out
    assert Member.objects.count() == 0 and PointsEntry.objects.count() == 0


def test_a_refused_file_exits_non_zero_with_the_reason(tmp_path, chain):
    path = tmp_path / "members.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00")
    with pytest.raises(CommandError) as error:
        run(str(path))
    assert error.value.returncode == 1 and "it looks like XLSX" in str(error.value)


def test_the_importer_must_be_allowed_to_edit_members(tmp_path, chain):
    path = write_csv(tmp_path / "ok.csv", [["13800138000", "王芳", *[""] * 9]])
    with pytest.raises(CommandError, match="may not import members"):
        run(str(path), "--as", "marketer")
    with pytest.raises(CommandError, match="no active staff login"):
        run(str(path), "--as", "nobody")
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "missing.csv"))
    assert Member.objects.count() == 0


def test_the_summary_names_the_columns_it_ignored(tmp_path, chain):
    # A members export's header: the member code, status and tier are read past, and said so.
    path = tmp_path / "导出.csv"
    path.write_text(
        "手机号,姓名,会员编号,状态,会员等级\r\n13800138000,王芳,00012345,正常,金卡\r\n", encoding="utf-8-sig"
    )
    out, _err = run(str(path), "--as", "hq_admin")
    assert "created 1, updated 0, unchanged 0, rejected 0" in out
    assert "Ignored columns: 会员编号、状态、会员等级" in out
