from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("emergency", "0001_incidents"),
    ]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="alert_sent_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="current alert revision sent at"),
        ),
    ]
