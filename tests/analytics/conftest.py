import pytest


@pytest.fixture(autouse=True)
def _english(settings):
    """The analytics tests read the English messages; the chain's default language is Chinese."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
