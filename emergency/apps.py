from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EmergencyConfig(AppConfig):
    name = "emergency"
    label = "emergency"
    verbose_name = _("Emergency linkage")

    def ready(self) -> None:
        # Seams: the emergency rows of the one workflow table, and the live incidents of a screen's snapshot.
        from emergency import queries, workflow
        from realtime.queries import register_snapshot_part

        workflow.register()
        register_snapshot_part(
            "incidents",
            lambda audience: queries.live_incidents_snapshot(centre=audience.centre, agency_id=audience.agency_id),
        )
