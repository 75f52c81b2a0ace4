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
from datetime import UTC, datetime

LIBRARIES = (
    "aiokafka",
    "kafka",
    "faust",
    "mode",
    "pymongo",
    "urllib3",
    "transformers",
    "asyncio",
    "aiohttp",
    "huggingface_hub",
    "filelock",
    "opentelemetry",
)


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


#: aiokafka logs these at ERROR while a just-created topic or a new group settles (leaders and the
#: group coordinator are being elected), then retries and recovers by itself.
_NORMAL_START_ERRORS = ("GroupCoordinatorNotAvailableError", "NotLeaderForPartitionError")


class _NormalStartNoise(logging.Filter):
    """Drops aiokafka's transient start-up errors. A coordinator or leader that never comes shows up
    as a consumer that is not ready (/readyz, `haven status`) instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in _NORMAL_START_ERRORS)


def configure_logging(level: str, log_format: str = "text", library_level: str = "WARNING") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(library_level.upper())
    for name in ("aiokafka.consumer.group_coordinator", "aiokafka.consumer.fetcher"):
        logging.getLogger(name).addFilter(_NormalStartNoise())
