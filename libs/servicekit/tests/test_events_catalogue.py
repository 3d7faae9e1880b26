"""docs/events.md and servicekit/topics.py describe the same topics and event types."""

import re
from pathlib import Path

import pytest
from servicekit.topics import EVENT_TYPES, SERVICES, TOPICS, dlq_of

DOC = Path(__file__).resolve().parents[3] / "docs" / "events.md"
TYPE_ROW = re.compile(
    r"^\|\s*`(fr\.enrs\.[^`]+)`\s*\|(?P<description>[^|]*)\|(?P<data>[^|]*)\|\s*$"
)
TOPIC_HEADING = re.compile(r"^### `([^`]+)`\s*$")
TYPE_NAME = re.compile(r"^fr\.enrs\.[a-z-]+\.[a-z-]+\.[a-z-]+$")


@pytest.fixture(scope="module")
def documented():
    """{type: (topic heading it is under, description, data fields)} read from docs/events.md."""
    types, topic = {}, None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if heading := TOPIC_HEADING.match(line):
            topic = heading.group(1)
        elif row := TYPE_ROW.match(line):
            fields = tuple(re.findall(r"`([^`]+)`", row.group("data")))
            types[row.group(1)] = (topic, row.group("description").strip(), fields)
    return types


def test_the_doc_lists_every_catalogued_type_and_no_other(documented):
    assert sorted(documented) == sorted(EVENT_TYPES)


def test_the_doc_gives_each_type_its_topic_description_and_data_fields(documented):
    for name, event in EVENT_TYPES.items():
        assert documented[name] == (event.topic, event.description, event.data), name


def test_the_doc_lists_every_topic_and_its_dead_letter_topic():
    text = DOC.read_text(encoding="utf-8")
    for topic in TOPICS:
        assert f"| `{topic}` |" in text and f"`{dlq_of(topic)}`" in text, topic


def test_every_type_is_named_after_its_service_entity_and_past_verb():
    for name, event in EVENT_TYPES.items():
        assert TYPE_NAME.match(name), name
        assert event.service in SERVICES, name
