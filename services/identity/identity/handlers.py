"""identity's event handlers: accounts follow the directory's practitioners by RPPS number.

A practitioner created or updated by a directory import links the account holding the same RPPS
number: its names become the directory's. A practitioner deactivated by an import (absent from
the national extract) disables that account, exactly as an administrator would: its sessions end
and its tokens are revoked. Events about practitioners without an account here change nothing.
"""

import logging
from typing import Annotated

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, StringConstraints
from servicekit import audit
from servicekit.events import handles

from identity import service
from identity.models import User

log = logging.getLogger(__name__)

# The audit actor of every change made on the directory's word.
ACTOR = "directory"

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Rpps = Annotated[str, StringConstraints(pattern=r"^\d{11}$")]


class PractitionerData(BaseModel):
    """The data of a fr.enrs.directory.practitioner.* event, as identity reads it.

    Fields added to the event later are ignored, so the directory can grow its payload first.
    """

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    id: str
    rpps: Rpps | None
    family: Name
    given: Name
    active: bool


def practitioner(event):
    """The validated data of a practitioner event; pydantic's ValidationError if malformed."""
    return PractitionerData.model_validate(event.get_data())


def account_of(db_session, rpps):
    """The account holding this RPPS number, or None."""
    if rpps is None:
        return None
    return db_session.scalar(sa.select(User).where(User.rpps == rpps))


@handles("fr.enrs.directory.practitioner.created")
@handles("fr.enrs.directory.practitioner.updated")
def link_account(db_session, event):
    """Give the account with the practitioner's RPPS number the directory's names."""
    data = practitioner(event)
    user = account_of(db_session, data.rpps)
    if user is None:
        return
    names = {"given_name": data.given, "family_name": data.family}
    if all(getattr(user, field) == value for field, value in names.items()):
        return
    for field, value in names.items():
        setattr(user, field, value)
    audit.record(
        db_session,
        actor=ACTOR,
        action="identity.user.link",
        purpose="administration",
        target=f"user:{user.id}",
        details={"practitioner_id": data.id, "event_id": event.get_id()},
    )
    log.info("account linked to its directory entry", extra={"user_id": str(user.id)})


@handles("fr.enrs.directory.practitioner.deactivated")
def disable_account(db_session, event):
    """Disable the account of a practitioner the national directory no longer lists."""
    data = practitioner(event)
    user = account_of(db_session, data.rpps)
    if user is None or user.disabled:
        return
    service.disable_user(db_session, ACTOR, user)
    log.info("account disabled: practitioner deactivated", extra={"user_id": str(user.id)})
