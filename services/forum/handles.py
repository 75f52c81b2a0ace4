"""Random, readable, kind handles: adjective + noun + number, e.g. "QuietHarbor482".

The words are calm and kind on purpose. None names a substance, drinking, death or anything a
person could read as mocking, and words that double as drug slang (colours, "stone", "kite",
"angel", "horse", "snow", "spirit", "amber"...) are left out too.
"""

from __future__ import annotations

import random
import secrets

ADJECTIVES: tuple[str, ...] = (
    "Able", "Agile", "Alert", "Amiable", "Artful", "Autumn", "Balanced", "Blooming", "Bold", "Brave",
    "Breezy", "Bright", "Calm", "Candid", "Careful", "Caring", "Cheerful", "Chipper", "Civil", "Clear",
    "Clever", "Coastal", "Courteous", "Cozy", "Crisp", "Curious", "Daring", "Dapper", "Dear", "Decent",
    "Devoted", "Diligent", "Eager", "Early", "Earnest", "Eastern", "Easy", "Elegant", "Even", "Evening",
    "Fair", "Faithful", "Fearless", "Flowing", "Focused", "Fond", "Fresh", "Friendly", "Gallant", "Generous",
    "Genuine", "Giving", "Glad", "Gleaming", "Glowing", "Graceful", "Gracious", "Grateful", "Grounded", "Handy",
    "Hardy", "Hearty", "Heartfelt", "Helpful", "Honest", "Hopeful", "Humble", "Hushed", "Jolly", "Jovial",
    "Joyful", "Keen", "Kind", "Kindly", "Kindred", "Lasting", "Learning", "Listening", "Lively", "Loving",
    "Loyal", "Lucid", "Majestic", "Merry", "Mighty", "Mild", "Mindful", "Modest", "Moonlit", "Morning",
    "Natural", "Neat", "Nifty", "Nimble", "Noble", "Northern", "Open", "Patient", "Peaceful", "Placid",
    "Playful", "Pleasant", "Plucky", "Poised", "Polite", "Prudent", "Quaint", "Quiet", "Radiant", "Ready",
    "Resilient", "Rested", "Restful", "Rising", "Robust", "Rosy", "Rustic", "Serene", "Sheltered", "Shining",
    "Silver", "Simple", "Sincere", "Smiling", "Snug", "Soft", "Soothing", "Sound", "Southern", "Splendid",
    "Sprightly", "Spry", "Stable", "Starry", "Steadfast", "Steady", "Strong", "Sturdy", "Sunlit", "Sunny",
    "Supportive", "Swift", "Tactful", "Tender", "Thankful", "Thoughtful", "Tidy", "Timely", "Tireless", "Tranquil",
    "True", "Trusted", "Trusty", "Unhurried", "Upbeat", "Upright", "Valiant", "Velvet", "Vivid", "Wakeful",
    "Warm", "Welcoming", "Western", "Wholesome", "Willing", "Wise", "Witty", "Worthy", "Woven", "Youthful",
)

NOUNS: tuple[str, ...] = (
    "Acorn", "Anchor", "Aspen", "Atlas", "Aurora", "Badger", "Bay", "Beacon", "Bear", "Beaver",
    "Birch", "Bison", "Blanket", "Bridge", "Brook", "Cabin", "Candle", "Canoe", "Canyon", "Cardinal",
    "Castle", "Cedar", "Clover", "Comet", "Compass", "Cottage", "Cove", "Crane", "Creek", "Daisy",
    "Dawn", "Deer", "Delta", "Dolphin", "Dove", "Eagle", "Elm", "Falcon", "Fern", "Finch",
    "Fjord", "Forest", "Fox", "Garden", "Glade", "Glen", "Grove", "Hare", "Harbor", "Harmony",
    "Harp", "Harvest", "Haven", "Hawk", "Hazel", "Hearth", "Heath", "Hedgehog", "Heron", "Hill",
    "Horizon", "Island", "Ivy", "Jay", "Journey", "Kayak", "Keel", "Kestrel", "Kettle", "Lagoon",
    "Lake", "Lantern", "Lark", "Laurel", "Lighthouse", "Linden", "Loom", "Lotus", "Lynx", "Maple",
    "Marigold", "Meadow", "Mesa", "Mitten", "Moon", "Moss", "Mountain", "Muffin", "Nest", "Oak",
    "Oar", "Ocean", "Orbit", "Orchard", "Otter", "Owl", "Paddle", "Panda", "Path", "Pebble",
    "Pelican", "Penguin", "Pine", "Planet", "Plover", "Pond", "Prairie", "Puffin", "Quail", "Quilt",
    "Rainbow", "Reed", "Ridge", "Robin", "Rose", "Rudder", "Sail", "Sandpiper", "Scarf", "Seal",
    "Shell", "Shore", "Sky", "Sparrow", "Sprout", "Spruce", "Stream", "Summit", "Sundial", "Sunrise",
    "Swan", "Sweater", "Tern", "Thistle", "Thrush", "Tide", "Trail", "Trellis", "Tulip", "Turtle",
    "Valley", "Violet", "Voyage", "Walnut", "Waterfall", "Wave", "Whale", "Wharf", "Wildflower", "Willow",
    "Window", "Woodland", "Wren", "Yarrow", "Zephyr",
)

#: Always three digits, so handles read alike: 900 numbers per word pair.
NUMBERS = range(100, 1000)

_SYSTEM_RANDOM = secrets.SystemRandom()


def handle_space_size() -> int:
    """How many different handles there are."""
    return len(ADJECTIVES) * len(NOUNS) * len(NUMBERS)


def generate_handle(rng: random.Random = _SYSTEM_RANDOM) -> str:
    """A random handle. The default source is the OS's, so handles cannot be predicted from each other."""
    return f"{rng.choice(ADJECTIVES)}{rng.choice(NOUNS)}{rng.choice(NUMBERS)}"
