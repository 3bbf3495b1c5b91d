"""Limit/offset paging whose parameters are checked: a bad ``limit`` or ``offset`` is a 400 naming it.

DRF's own paginator falls back to the default for a value it cannot read and passes any size of integer on
to the database (2**63 overflows SQLite's and PostgreSQL's 64-bit integers: a 500). Here both must be
integers within what the database holds; a limit above ``max_limit`` is served as ``max_limit``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

from core.parsing import DB_INT_MAX, query_int


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = 1000

    def get_limit(self, request: Request) -> int:
        limit = query_int(request, self.limit_query_param, minimum=1)
        if limit is None:
            return int(self.default_limit or 0)
        return min(limit, self.max_limit) if self.max_limit else limit

    def get_offset(self, request: Request) -> int:
        return query_int(request, self.offset_query_param, minimum=0) or 0

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: 1, self.offset_query_param: 0}
        for parameter in parameters:
            if parameter["name"] in bounds:
                parameter["schema"] = {"type": "integer", "minimum": bounds[parameter["name"]], "maximum": DB_INT_MAX}
        return parameters
