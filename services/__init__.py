"""Haven services."""
