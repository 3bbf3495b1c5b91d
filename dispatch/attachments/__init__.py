"""Attachments: photos and documents on intake, progress notes and replies."""
