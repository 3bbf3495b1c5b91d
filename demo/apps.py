from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The demo city (load_demo_city): the top of the house, composing every app through its actions."""

    name = "demo"
    verbose_name = _("Demo city")
