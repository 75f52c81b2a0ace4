"""Random, readable, kind handles: adjective + noun + number."""

from __future__ import annotations

import random
import secrets

ADJECTIVES = (
    "Quiet", "Steady", "Gentle", "Brave", "Calm", "Bright", "Patient", "Hopeful", "Kind", "Warm",
    "Honest", "Open", "Clear", "Still", "Sunny", "Golden", "Silver", "Green", "Blue", "Early",
    "Fresh", "Humble", "Mellow", "Sturdy", "Tender", "Wise", "Curious", "Loyal", "Easy", "Faithful",
    "Grounded", "Rising", "Morning", "Evening", "Northern", "Southern", "Gentle", "Lucky", "Bold", "Careful",
)
NOUNS = (
    "Harbor", "River", "Meadow", "Lantern", "Cedar", "Willow", "Sparrow", "Heron", "Maple", "Pebble",
    "Garden", "Bridge", "Candle", "Compass", "Anchor", "Orchard", "Valley", "Summit", "Trail", "Beacon",
    "Harvest", "Breeze", "Fern", "Robin", "Otter", "Falcon", "Birch", "Clover", "Harmony", "Horizon",
    "Journey", "Lighthouse", "Mountain", "Ocean", "Prairie", "Quilt", "Shore", "Sunrise", "Tide", "Wren",
)


def generate_handle(rng: random.Random | None = None) -> str:
    chooser = rng or secrets.SystemRandom()
    return f"{chooser.choice(ADJECTIVES)}{chooser.choice(NOUNS)}{chooser.randint(100, 99999)}"
