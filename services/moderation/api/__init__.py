"""The moderation API (`haven serve moderation-api`): the review queue, claims, decisions,
messages and audit, the moderators' console, the resource directory, urgent re-alerts and the
screening watchdog. The app factory is `app.py`."""
