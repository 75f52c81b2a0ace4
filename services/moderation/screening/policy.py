"""What happens to a post at each risk level: the default policy, overridable per board.

Boards may override the default with HAVEN_BOARD_POLICIES, a JSON object such as
`{"milestones": {"concern": "publish"}}` (board slug -> risk -> action).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import get_args

from streams.events import DANGER_LEVELS, Action, Risk
from streams.settings import Settings

DEFAULT_ACTIONS: dict[str, str] = {
    "none": "publish",
    "concern": "publish_with_resources",
    "high": "hold",
    "imminent": "hold_urgent",
}
_ACTIONS = set(get_args(Action))
#: From most lenient to strictest.
_STRICTNESS = ("publish", "publish_with_resources", "hold", "hold_urgent")
_RISKS = set(get_args(Risk))


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class Policy:
    board_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for board, overrides in self.board_overrides.items():
            for risk, action in overrides.items():
                if risk not in _RISKS or action not in _ACTIONS:
                    raise PolicyError(f"board {board!r}: {risk!r} -> {action!r} is not a risk -> action pair")
                # An override may be stricter, never more lenient, for danger: a board can't publish
                # a post that the default policy would hold, nor hold without paging anyone a post
                # the default would hold as urgent.
                if risk in DANGER_LEVELS and action.startswith("publish"):
                    raise PolicyError(f"board {board!r} may not publish {risk} posts unreviewed")
                if risk in DANGER_LEVELS and _STRICTNESS.index(action) < _STRICTNESS.index(DEFAULT_ACTIONS[risk]):
                    raise PolicyError(
                        f"board {board!r} may not take {risk} posts less urgently than {DEFAULT_ACTIONS[risk]}"
                    )

    def action_for(self, risk: Risk, board_slug: str | None = None) -> Action:
        overrides = self.board_overrides.get(board_slug or "", {})
        return overrides.get(risk, DEFAULT_ACTIONS[risk])  # type: ignore[return-value]  # overrides were checked to be actions in __post_init__

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(board_overrides=settings.board_policies)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Policy:
        raw = env.get("HAVEN_BOARD_POLICIES", "").strip()
        if not raw:
            return cls()
        try:
            overrides = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"HAVEN_BOARD_POLICIES is not valid JSON: {exc}") from exc
        if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
            raise PolicyError("HAVEN_BOARD_POLICIES must map board slugs to {risk: action} objects")
        return cls(board_overrides=overrides)
