"""Random anonymous handles."""

from __future__ import annotations

import random
import re

from services.forum.handles import ADJECTIVES, NOUNS, generate_handle, handle_space_size

#: Words about substances, drinking, death or mockery, and drug slang; none may be a handle word.
UNKIND_WORDS = {
    "high",
    "stoned",
    "baked",
    "lit",
    "wasted",
    "buzzed",
    "blue",
    "green",
    "white",
    "golden",
    "mellow",
    "lush",
    "snow",
    "snowy",
    "ice",
    "icy",
    "crystal",
    "rock",
    "stone",
    "grass",
    "weed",
    "herb",
    "bud",
    "tree",
    "leaf",
    "poppy",
    "mushroom",
    "molly",
    "angel",
    "horse",
    "dragon",
    "candy",
    "sugar",
    "diamond",
    "pearl",
    "powder",
    "smoke",
    "ash",
    "grave",
    "ghost",
    "skull",
    "dead",
    "dying",
    "doom",
    "tomb",
    "pipe",
    "joint",
    "needle",
    "pill",
    "dope",
    "coke",
    "crack",
    "meth",
    "speed",
    "rush",
    "trip",
    "kite",
    "cloud",
    "haze",
    "spirit",
    "spirited",
    "bubbly",
    "amber",
    "juniper",
    "barley",
    "hops",
    "grape",
    "wine",
    "beer",
    "rum",
    "gin",
    "brandy",
    "shot",
    "bottle",
    "bar",
    "sage",
    "raven",
    "swallow",
    "loser",
    "crazy",
    "weak",
    "lame",
    "broken",
    "lost",
    "lonely",
}
UNKIND_FRAGMENTS = (
    "death",
    "kill",
    "drug",
    "drunk",
    "booze",
    "suicid",
    "overdos",
    "heroin",
    "opi",
    "cocaine",
    "smoke",
    "weed",
    "pill",
    "dope",
    "meth",
    "stone",
    "grave",
    "corpse",
    "blood",
    "sober",
)


def test_handles_are_adjective_noun_and_three_digits() -> None:
    rng = random.Random(7)
    for _ in range(200):
        handle = generate_handle(rng)
        match = re.fullmatch(r"([A-Z][a-z]+)([A-Z][a-z]+)(\d{3})", handle)
        assert match, handle
        assert match.group(1) in ADJECTIVES and match.group(2) in NOUNS


def test_the_default_source_is_random_enough_to_differ() -> None:
    assert len({generate_handle() for _ in range(50)}) >= 49


def test_a_seeded_source_is_reproducible_for_tests() -> None:
    assert generate_handle(random.Random(1)) == generate_handle(random.Random(1))


def test_there_are_at_least_ten_million_handles() -> None:
    assert handle_space_size() >= 10**7
    assert len(set(ADJECTIVES)) == len(ADJECTIVES) and len(set(NOUNS)) == len(NOUNS)


def test_every_word_is_calm_and_kind() -> None:
    for word in ADJECTIVES + NOUNS:
        lowered = word.lower()
        assert lowered not in UNKIND_WORDS, word
        assert not any(fragment in lowered for fragment in UNKIND_FRAGMENTS), word
        assert word.isascii() and word.isalpha() and word[0].isupper(), word
