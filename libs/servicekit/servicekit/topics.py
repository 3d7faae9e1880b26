"""Every Kafka topic and event type of the platform, with what each event's data carries.

One topic per producing service; the type is fr.enrs.<service>.<entity>.<past-verb>.
docs/events.md is the readable copy of this catalogue; a test keeps the two in step.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    """One event type of the catalogue: its name, what happened, its data fields."""

    type: str
    description: str
    data: tuple[str, ...]

    @property
    def service(self):
        """The producing service, read from the type name."""
        return self.type.split(".")[2]

    @property
    def topic(self):
        """The topic the event travels on."""
        return topic_of(self.service)


def topic_of(service):
    """The topic a service produces to."""
    return f"enrs.{service}"


def dlq_of(topic):
    """The dead-letter topic for a topic's poison messages."""
    return f"{topic}.dlq"


SERVICES = (
    "identity",
    "directory",
    "records-bridge",
    "oncology-rcp",
    "telemedicine",
    "secure-messaging",
)
TOPICS = tuple(topic_of(service) for service in SERVICES)

_USER = ("user_id", "username")

# Directory entities are created, updated or deactivated (never deleted) by extract imports.
_PRACTITIONER = ("id", "national_id", "id_type", "rpps", "family", "given", "active")
_ORGANIZATION = ("id", "key", "finess", "siret", "name", "active")
_MAILBOX = ("id", "address", "kind", "owner_national_id", "active")
_ABSENT = "absent from an imported snapshot: deactivated, not deleted"

EVENT_TYPES = {
    event.type: event
    for event in (
        EventType(
            "fr.enrs.identity.user.created",
            "An account was created.",
            (*_USER, "roles", "rpps", "by"),
        ),
        EventType(
            "fr.enrs.identity.user.disabled",
            "An account was disabled; its sessions ended.",
            (*_USER, "by"),
        ),
        EventType(
            "fr.enrs.identity.user.enabled", "A disabled account was enabled again.", (*_USER, "by")
        ),
        EventType(
            "fr.enrs.identity.user.roles-changed",
            "An account's roles were changed.",
            (*_USER, "roles", "previous_roles", "by"),
        ),
        EventType(
            "fr.enrs.identity.user.mfa-reset",
            "An account's second factor was reset.",
            (*_USER, "by"),
        ),
        EventType(
            "fr.enrs.identity.user.logged-in",
            "A user signed in (password and TOTP).",
            (*_USER, "session_id", "acr"),
        ),
        EventType(
            "fr.enrs.identity.user.login-failed",
            "A sign-in attempt failed.",
            ("username", "reason"),
        ),
        EventType(
            "fr.enrs.identity.user.locked",
            "Repeated failures locked an account for a while.",
            (*_USER, "until"),
        ),
        EventType(
            "fr.enrs.identity.user.logged-out",
            "A user signed out; the session ended.",
            (*_USER, "session_id"),
        ),
        EventType(
            "fr.enrs.identity.token.refreshed",
            "A refresh token was exchanged.",
            (*_USER, "client_id"),
        ),
        EventType(
            "fr.enrs.identity.token.reuse-detected",
            "A used refresh token was presented again; its whole family was revoked.",
            (*_USER, "client_id"),
        ),
        EventType(
            "fr.enrs.directory.practitioner.created",
            "A practitioner was created by an import.",
            _PRACTITIONER,
        ),
        EventType(
            "fr.enrs.directory.practitioner.updated",
            "A practitioner was changed by an import.",
            _PRACTITIONER,
        ),
        EventType(
            "fr.enrs.directory.practitioner.deactivated",
            "A practitioner was " + _ABSENT + ".",
            _PRACTITIONER,
        ),
        EventType(
            "fr.enrs.directory.organization.created",
            "An organisation was created by an import.",
            _ORGANIZATION,
        ),
        EventType(
            "fr.enrs.directory.organization.updated",
            "An organisation was changed by an import.",
            _ORGANIZATION,
        ),
        EventType(
            "fr.enrs.directory.organization.deactivated",
            "An organisation was " + _ABSENT + ".",
            _ORGANIZATION,
        ),
        EventType(
            "fr.enrs.directory.mailbox.created",
            "An MSSanté mailbox was created by an import.",
            _MAILBOX,
        ),
        EventType(
            "fr.enrs.directory.mailbox.updated",
            "An MSSanté mailbox was changed by an import.",
            _MAILBOX,
        ),
        EventType(
            "fr.enrs.directory.mailbox.deactivated",
            "An MSSanté mailbox was " + _ABSENT + ".",
            _MAILBOX,
        ),
    )
}


def event_type(name):
    """The catalogue entry of an event type, or ValueError if it is not in the catalogue."""
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise ValueError(f"{name!r} is not in the event catalogue (servicekit/topics.py)") from None


def markdown_catalogue():
    """The catalogue as the Markdown tables of docs/events.md (one per topic with events)."""
    lines = []
    for topic in TOPICS:
        events = [event for event in EVENT_TYPES.values() if event.topic == topic]
        if not events:
            continue
        lines += [f"### `{topic}`", "", "| type | what happened | data |", "|---|---|---|"]
        for event in events:
            fields = ", ".join(f"`{name}`" for name in event.data)
            lines.append(f"| `{event.type}` | {event.description} | {fields} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_catalogue())
