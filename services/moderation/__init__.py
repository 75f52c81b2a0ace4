"""Haven moderation service."""
