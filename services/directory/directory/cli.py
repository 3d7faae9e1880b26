"""directory's commands: import an extract, generate a synthetic one."""


def init_app(app):
    """Register the directory's commands on app.cli."""
