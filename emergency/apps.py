from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EmergencyConfig(AppConfig):
    name = "emergency"
    label = "emergency"
    verbose_name = _("Emergency linkage")

    def ready(self) -> None:
        # Seams: the emergency rows of the one workflow table, the choices of their forms on the ticket page,
        # and the live incidents of a screen's snapshot.
        from dispatch.ticket_screen import choices
        from emergency import queries, workflow
        from emergency.eido import partners
        from emergency.models import EmergencyLine, IncidentLevel, IncidentType
        from realtime.queries import register_snapshot_part

        workflow.register()
        partners.register()  # the outbox's "eido" deliveries (emergency/eido/partners.py)
        choices.register("incident_types", lambda: IncidentType.choices)
        choices.register("incident_levels", lambda: IncidentLevel.choices)
        choices.register("emergency_lines", lambda: EmergencyLine.choices)
        register_snapshot_part(
            "incidents",
            lambda audience: queries.live_incidents_snapshot(
                centre=audience.centre, agency_id=audience.agency_id, city_id=audience.city_id
            ),
        )
