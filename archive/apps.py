import logging

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArchiveConfig(AppConfig):
    name = "archive"
    verbose_name = _("Archive")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # bagit logs a line per file at INFO; a batch of packages would flood the logs with paths.
        logging.getLogger("bagit").setLevel(logging.WARNING)
        # Seams: the ticket row "archive" of the one workflow table; queuing in the transaction that closes a
        # ticket or an incident (the event log's after-write listeners); the outbox's sender of packages.
        from archive import actions, sending, workflow
        from exchange.outbox import register_sender
        from realtime.events import register_after_write

        workflow.register()
        register_after_write(actions.queue_for_events)
        register_sender(sending.KIND, sending.send_package)
