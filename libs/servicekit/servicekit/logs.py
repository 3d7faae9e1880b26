"""JSON log lines on stdout, each with the request id; no patient identity or secret is logged."""

import json
import logging
import sys

from servicekit.requestid import current_request_id

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extra fields."""

    def format(self, record):
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or _safe_request_id()
        if request_id:
            line["request_id"] = request_id
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def _safe_request_id():
    try:
        return current_request_id()
    except RuntimeError:
        return None


def configure(level="INFO"):
    """Send every log record to stdout as JSON; called once per process."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def init_app(app):
    """Log JSON lines at LOG_LEVEL (tests keep pytest's own handlers)."""
    if not app.config.get("TESTING"):
        configure(app.config.get("LOG_LEVEL", "INFO"))
