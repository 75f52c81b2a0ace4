"""Plumbing shared by the three services: HTTP errors, health, MongoDB, consumer loops."""
