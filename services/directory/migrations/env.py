from alembic import context
from directory.models import Base
from servicekit.migrations import run_env
from servicekit.models import KitBase

run_env(context, [Base.metadata, KitBase.metadata])
