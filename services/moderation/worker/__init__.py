"""The screening worker (`haven serve moderation-worker`): a faust agent that screens every
submitted post, routes resources and emits verdicts, with its own health endpoints. The app
factory is `app.py` (it imports faust, so this package does not import it)."""
