"""Haven forum service."""
