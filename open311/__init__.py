"""Open311 GeoReport v2: the city's public service-request API (docs/ARCHITECTURE.md, README "Open311")."""
