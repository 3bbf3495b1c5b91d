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
        # Another: a user's access revoked below (identity) rings the bell that has every hub re-check its sockets.
        from organisation.identity.events import access_revoked
        from realtime.doorbell import ring_revoked

        access_revoked.connect(ring_revoked, dispatch_uid="realtime-ring-revoked")
        # And /health/ready and /metrics (core): this process's event lag and sockets.
        from realtime import observability

        observability.register()
