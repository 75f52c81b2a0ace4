"""Log set-up for every Haven process: one format option, quiet third-party libraries.

`HAVEN_LOG_FORMAT=json` writes one JSON object a line (for a log pipeline); `text` (the default)
is for people. Libraries log at WARNING unless HAVEN_LIBRARY_LOG_LEVEL says otherwise: aiokafka's
INFO lines (group joins, and "GroupCoordinatorNotAvailableError" on every normal first start)
bury what matters. Haven's own messages never carry post bodies, tokens or addresses.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

LIBRARIES = ("aiokafka", "kafka", "faust", "mode", "pymongo", "urllib3", "transformers", "asyncio", "aiohttp",
             "huggingface_hub", "filelock", "opentelemetry")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _NormalStartNoise(logging.Filter):
    """Drops aiokafka's "GroupCoordinatorNotAvailableError" lines: every first start of a group on
    a fresh broker logs them at ERROR while the coordinator is being elected, then recovers. A
    coordinator that never comes shows up as a consumer that is not ready instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "GroupCoordinatorNotAvailableError" not in record.getMessage()


def configure_logging(level: str, env: Mapping[str, str]) -> None:
    log_format = env.get("HAVEN_LOG_FORMAT", "text").lower()
    if log_format not in ("text", "json"):
        raise ValueError(f"HAVEN_LOG_FORMAT must be 'text' or 'json', got {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    library_level = env.get("HAVEN_LIBRARY_LOG_LEVEL", "WARNING").upper()
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(library_level)
    logging.getLogger("aiokafka.consumer.group_coordinator").addFilter(_NormalStartNoise())
