from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = _("Dispatch and workflow")

    def ready(self) -> None:
        from config import sqlite

        sqlite.connect()
