"""The seeded boards. Slugs are fixed: clients and board policies refer to them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Board:
    slug: str
    name: str
    description: str


SEEDED_BOARDS: tuple[Board, ...] = (
    Board("newcomers", "Newcomers", "First days, first questions. Say hello; nobody here will judge you."),
    Board("alcohol", "Alcohol", "Quitting or cutting down drinking, one day at a time."),
    Board("opioids", "Opioids", "Heroin, fentanyl, pills, MAT and staying alive while you get there."),
    Board("stimulants", "Stimulants", "Meth, cocaine, crack and the long road back from them."),
    Board("cannabis", "Cannabis", "When weed stopped being fun: quitting, sleep, cravings."),
    Board("gambling", "Gambling", "Betting, casinos, apps and the debts and shame that come with them."),
    Board("family-and-friends", "Family and friends", "For people who love someone in addiction."),
    Board("milestones", "Milestones", "24 hours, 30 days, 5 years: share them here and let us cheer."),
    Board("relapse-and-recovery", "Relapse and recovery", "Slipped? You are still welcome. Talk it through here."),
    Board(
        "mentorship",
        "Mentorship",
        "Members with long-term recovery offering one-on-one support: the forum's form of sponsorship.",
    ),
    Board("sober-living", "Sober living", "Sober houses, work, friendships, fun and life without using."),
)
