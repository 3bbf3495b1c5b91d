"""Abstract models shared by the apps (no tables of their own)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class AppendOnlyModel(models.Model):
    """Rows that record what happened: written once, never changed or deleted through the ORM."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValidationError(_("This record is append-only."))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValidationError(_("This record is append-only."))


class Installation(models.Model):
    """How this database was set up: one row, written once by ``init_production`` or the demo loader.

    A production database refuses the demo loader (which would add users with a published password);
    a demo database refuses ``init_production`` (its demo users would stay)."""

    class Purpose(models.TextChoices):
        DEMO = "demo", _("demo")
        PRODUCTION = "production", _("production")

    # Always 1: the table holds at most one row, and the key says so.
    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    marked_at = models.DateTimeField(_("set up at"), auto_now_add=True)

    class Meta:
        verbose_name = _("installation")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="core_installation_single_row")]

    def __str__(self) -> str:
        return str(self.get_purpose_display())
