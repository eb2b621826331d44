from django import forms
from django.utils.translation import gettext_lazy as _

from members.imports.columns import map_header
from members.imports.jobs import import_kind
from members.imports.reader import CsvReader, ImportFileError
from members.models import ImportJob

MAX_UPLOAD_BYTES = 1 << 30


class ImportForm(forms.Form):
    """The upload of a file of one kind (ImportJob.Kind); its header is checked on the form."""

    file = forms.FileField(
        label=_("File (CSV)"),
        help_text=_(
            "UTF-8 (with or without BOM) or GBK, as Excel saves it; Chinese or English headers. "
            "Start from the template."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    mode = forms.ChoiceField(
        label=_("Mode"), choices=ImportJob.Mode.choices, initial=ImportJob.Mode.ALL_OR_NOTHING, widget=forms.RadioSelect
    )
    dry_run = forms.BooleanField(
        label=_("Dry run"),
        required=False,
        help_text=_("Check the file and count what would be created, updated and rejected; write nothing."),
    )

    def __init__(self, *args, kind: str = ImportJob.Kind.MEMBERS, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.spec = import_kind(kind)
        if "award_points" in self.spec.options:
            self.fields["award_points"] = forms.BooleanField(
                label=_("Award points"),
                required=False,
                help_text=_(
                    "Give members the points these sales earn under today's earning rules (expiring as if "
                    "earned at the time of the sale). Leave it off when the previous system's points balance "
                    "is imported as opening points."
                ),
            )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 1 GB; split it."), code="too_large")
        # The header is checked now, so a wrong file is refused on the form instead of in a job.
        try:
            header = CsvReader(upload).header()
            map_header(header.cells, self.spec.columns(), self.spec.ignored())
        except ImportFileError as error:
            raise forms.ValidationError(error.message, code="file_refused") from None
        finally:
            upload.seek(0)
        return upload

    def job_options(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.spec.options if name in self.cleaned_data}
