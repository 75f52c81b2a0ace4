"""The crisis resource directory, owned, routed and served by the moderation service."""

from services.moderation.resources.directory import MAX_FOR_AUTHOR, ResourceDirectory
from services.moderation.resources.entries import FALLBACK, DirectoryEntry, DirectoryError

__all__ = ["FALLBACK", "MAX_FOR_AUTHOR", "DirectoryEntry", "DirectoryError", "ResourceDirectory"]
