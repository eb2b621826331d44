import pytest


@pytest.fixture(autouse=True)
def _english_for_import_and_export(request, settings):
    """The import and export tests read the English messages; the chain's default language is Chinese."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    if not name.startswith(("test_import_", "test_export_")):
        yield
        return
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
