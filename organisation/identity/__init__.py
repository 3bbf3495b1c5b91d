"""Identity: API tokens (django-rest-knox), login lockout (django-axes), the second factor (django-otp), and the
security events they write to the audit log. Every revocation of a user's access (a token revoked or expired, a
logout, a password change, a deactivation, a role change) is announced by ``events.access_revoked`` after commit;
the realtime layer, above this one, closes the user's live sockets when it hears it."""
