"""Jurisdiction layers, routing rules and the gazetteer arrive with the GIS work (issue 3)."""
