"""Every message the product can show has a finished Simplified Chinese translation.

The messages are extracted from the code as `make messages` does, into a copy of the project, so a new
string that nobody translated fails here rather than reaching a store in English.
"""

import gettext
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCALE = Path("locale") / "zh_Hans" / "LC_MESSAGES"
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "staticfiles", "media", "test-artifacts", "bench", "tests", "db.sqlite3*", "*.pyc"
)

pytestmark = pytest.mark.skipif(
    not (shutil.which("msgmerge") and shutil.which("msgattrib") and shutil.which("msgfmt")),
    reason="GNU gettext is not installed (apt-get install gettext)",
)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("project") / "project"
    shutil.copytree(ROOT, copy, ignore=NOT_SOURCE)
    for domain in ("django", "djangojs"):
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "-d", domain, "--no-obsolete"],
            cwd=copy,
            check=True,
            capture_output=True,
        )
    return copy / LOCALE


def _msgids(po: Path, *flags: str) -> list[str]:
    out = subprocess.run(["msgattrib", *flags, "--no-wrap", str(po)], check=True, capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if line.startswith("msgid ") and line != 'msgid ""']


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_message_in_the_code_has_a_chinese_translation(extracted, domain):
    untranslated = _msgids(extracted / f"{domain}.po", "--untranslated")
    assert not untranslated, f"untranslated in {domain}.po (run `make messages` and translate):\n" + "\n".join(
        untranslated
    )


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_no_translation_is_left_fuzzy(extracted, domain):
    fuzzy = _msgids(extracted / f"{domain}.po", "--only-fuzzy")
    assert not fuzzy, f"fuzzy in {domain}.po (check the translation, then remove the fuzzy flag):\n" + "\n".join(fuzzy)


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_compiled_catalogue_is_the_translations_as_written(tmp_path, domain):
    compiled = tmp_path / f"{domain}.mo"
    subprocess.run(["msgfmt", "-o", str(compiled), str(ROOT / LOCALE / f"{domain}.po")], check=True)
    with compiled.open("rb") as fresh, (ROOT / LOCALE / f"{domain}.mo").open("rb") as committed:
        written, shipped = gettext.GNUTranslations(fresh)._catalog, gettext.GNUTranslations(committed)._catalog
    stale = sorted(str(key) for key in written.keys() ^ shipped.keys() if key) + sorted(
        str(key) for key in written.keys() & shipped.keys() if written[key] != shipped[key]
    )
    assert not stale, f"{domain}.mo is out of date with {domain}.po (run `make messages`): {stale[:20]}"
