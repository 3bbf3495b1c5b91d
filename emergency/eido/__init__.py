"""Incident exchange in NENA EIDO JSON (NENA-STA-021): export (export.py), import (parse.py), validation against
NENA's vendored schema (schema.py, schema/), PIDF-LO locations (pidf.py), partner centres and the outbox's
``eido`` sender (partners.py), the endpoints (api.py). Writes go through emergency/actions/exchange.py."""
