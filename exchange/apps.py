from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "exchange"
    verbose_name = _("Data exchange")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A seam: the event log (realtime, below) calls its after-write listeners inside the writer's
        # transaction; webhook deliveries are written there, so they commit or roll back with the events.
        from exchange.webhooks import enqueue_for_events
        from realtime.events import register_after_write

        register_after_write(enqueue_for_events)

        from exchange import observability

        observability.register()
