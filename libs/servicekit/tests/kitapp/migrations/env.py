from alembic import context
from servicekit.migrations import run_env
from servicekit.models import KitBase

run_env(context, [KitBase.metadata])
