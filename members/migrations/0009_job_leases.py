"""Imports and exports hold a lease while a run works on them (members.job_leases).

The jobs left running when this is applied (their workers are from before it) get a lease that has
already run out: the sweeper runs them again at its first pass, or gives them up.
"""

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def lease_the_running_jobs(apps, schema_editor):
    for name in ("ImportJob", "ExportJob"):
        model = apps.get_model("members", name)
        model.objects.filter(status="running", lease_until__isnull=True).update(
            lease_until=timezone.now(), worker="(before leases)"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0008_export_selection_not_pickled'),
        ('stores', '0002_role_groups'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='exportjob',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0, help_text='Runs started, cut off ones included.', verbose_name='attempts'),
        ),
        migrations.AddField(
            model_name='exportjob',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='last sign of life'),
        ),
        migrations.AddField(
            model_name='exportjob',
            name='lease_until',
            field=models.DateTimeField(blank=True, null=True, verbose_name='held until'),
        ),
        migrations.AddField(
            model_name='exportjob',
            name='worker',
            field=models.CharField(blank=True, help_text='The host and process of the last run.', max_length=200, verbose_name='worker'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0, help_text='Runs started, cut off ones included.', verbose_name='attempts'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='last sign of life'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='lease_until',
            field=models.DateTimeField(blank=True, null=True, verbose_name='held until'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='worker',
            field=models.CharField(blank=True, help_text='The host and process of the last run.', max_length=200, verbose_name='worker'),
        ),
        migrations.RunPython(lease_the_running_jobs, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='exportjob',
            index=models.Index(condition=models.Q(('status__in', ['queued', 'running'])), fields=['lease_until'], name='export_job_lease_idx'),
        ),
        migrations.AddIndex(
            model_name='importjob',
            index=models.Index(condition=models.Q(('status__in', ['queued', 'running'])), fields=['lease_until'], name='import_job_lease_idx'),
        ),
        migrations.AddConstraint(
            model_name='exportjob',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'running'), _negated=True), ('lease_until__isnull', False), _connector='OR'), name='export_job_running_has_a_lease'),
        ),
        migrations.AddConstraint(
            model_name='importjob',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'running'), _negated=True), ('lease_until__isnull', False), _connector='OR'), name='import_job_running_has_a_lease'),
        ),
    ]
