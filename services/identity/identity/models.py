"""identity's tables."""

import sqlalchemy.orm as so
from servicekit.models import naming_metadata


class Base(so.DeclarativeBase):
    metadata = naming_metadata()
