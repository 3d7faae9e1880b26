"""Event handlers of the test application."""

from servicekit.events import handles

from kitapp.models import Note

POISON = "poison"


@handles("fr.enrs.identity.user.created")
def copy_username(session, event):
    """Keep a note per created user; a user named `poison` makes the handler fail."""
    username = event.get_data()["username"]
    if username == POISON:
        raise RuntimeError("this event cannot be handled")
    session.add(Note(text=username, author="handler"))
