"""Canned phrases (常用语): texts for intake descriptions, agency replies and revisit notes, per subject, kept by
the centre. actions.py writes them (audited, announced), api.py serves and edits them, views.py is the
centre's editing page (/phrases/); the screens' picker is callcenter/static/callcenter/phrases.js."""
