import io
import json
import logging

import pytest

from core.logs import configure_logging
from core.settings import LogSettings, parse_endpoints


def test_endpoints_are_normalised() -> None:
    assert parse_endpoints("http://127.0.0.1:2379") == ("http://127.0.0.1:2379",)
    assert parse_endpoints("127.0.0.1:23790, http://10.0.0.2") == (
        "http://127.0.0.1:23790",
        "http://10.0.0.2:2379",
    )


@pytest.mark.parametrize("text", ["", " , ", "ftp://x:1", "http://:2379", "http://h:notaport"])
def test_bad_endpoints_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_endpoints(text)


def test_json_log_lines_are_parseable() -> None:
    out = io.StringIO()
    configure_logging(LogSettings(level="info", format="json"), out)
    try:
        logging.getLogger("shoal.test").info("task %s placed", "default/web")
        line = json.loads(out.getvalue().strip())
        assert line["message"] == "task default/web placed"
        assert line["level"] == "info"
    finally:
        logging.getLogger().handlers.clear()
