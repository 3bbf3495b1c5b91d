from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = _("Real time")

    def ready(self) -> None:
        # A seam: the organisation, below this layer, tells its listeners of reference-data changes; the
        # centre's screens hear of them as events.
        from organisation.actions import change_listeners
        from realtime.events import announce_reference_change

        if announce_reference_change not in change_listeners:
            change_listeners.append(announce_reference_change)
