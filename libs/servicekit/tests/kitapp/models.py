import sqlalchemy as sa
import sqlalchemy.orm as so
from servicekit.models import intpk, naming_metadata


class Base(so.DeclarativeBase):
    metadata = naming_metadata()


class Note(Base):
    """A note written by a user, or by an event handler."""

    __tablename__ = "notes"

    id: so.Mapped[intpk]
    text: so.Mapped[str] = so.mapped_column(sa.String(500))
    author: so.Mapped[str] = so.mapped_column(sa.String(200))
