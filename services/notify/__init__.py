"""Haven notify service."""
