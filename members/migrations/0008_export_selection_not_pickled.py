"""A members export job keeps how its members were selected as plain parameters (JSON), no longer as a
pickled Query (issue 16).

Jobs asked for before this get a selection no app registers: a worker that meets one still waiting
fails it with "export it again", and their finished files stay downloadable until they expire. Going
back leaves them an empty filter, which the older code refuses the same way.
"""

from django.db import migrations, models

OLD_FORMAT = {"source": "pickled-query"}


def mark_old_jobs(apps, schema_editor):
    ExportJob = apps.get_model("members", "ExportJob")
    ExportJob.objects.filter(kind="members", selection__isnull=True).update(selection=OLD_FORMAT)


def empty_old_filters(apps, schema_editor):
    ExportJob = apps.get_model("members", "ExportJob")
    ExportJob.objects.filter(kind="members").update(query=b"")


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_constraint_messages"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="exportjob",
            name="export_job_members_have_a_filter",
        ),
        migrations.AddField(
            model_name="exportjob",
            name="selection",
            field=models.JSONField(blank=True, editable=False, null=True, verbose_name="members filter"),
        ),
        migrations.RunPython(mark_old_jobs, empty_old_filters),
        migrations.RemoveField(
            model_name="exportjob",
            name="query",
        ),
        migrations.AddConstraint(
            model_name="exportjob",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("kind", "members"), _negated=True), ("selection__isnull", False), _connector="OR"),
                name="export_job_members_have_a_filter",
                violation_error_code="filter_required",
                violation_error_message="A members export keeps the filter of its list.",
            ),
        ),
    ]
