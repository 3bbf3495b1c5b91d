"""Whose board: one city's (the viewer's, organisation.policy.city_scope) or every city's.

Each read of the board narrows its rows with ``CityScope.q(field)`` on the city that fits it: the agency's city
for what is judged per agency (KPIs, ranking, their drill-down and trend, the reprimand list), the ticket's
city for the live cards, cases and clocks (the centre of the ticket's city is the one that acts on them).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from organisation.models import default_city_id, in_city


@dataclass(frozen=True)
class CityScope:
    """``city_id`` None: every city. ``default_id`` is the default city's, looked up once per request."""

    city_id: int | None = None
    default_id: int | None = None

    @classmethod
    def of(cls, city_id: int | None) -> CityScope:
        return cls(city_id, default_city_id()) if city_id is not None else EVERY_CITY

    @property
    def every_city(self) -> bool:
        return self.city_id is None

    def q(self, field: str) -> Q:
        """Rows whose ``field`` (a foreign key to City) is this scope's city (a row naming none: the default)."""
        if self.city_id is None:
            return Q()
        return in_city(self.city_id, field=field, default_id=self.default_id)


EVERY_CITY = CityScope()
