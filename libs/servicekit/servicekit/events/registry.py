"""Consumer handlers, registered by event type: handler(session, event)."""

_HANDLERS = {}


def handles(type):
    """Register the decorated function as the handler of an event type."""

    def decorator(handler):
        _HANDLERS.setdefault(type, []).append(handler)
        return handler

    return decorator


def handlers_for(type, package=None):
    """The handlers of an event type, limited to those defined in `package` when given."""
    found = _HANDLERS.get(type, [])
    if package is None:
        return list(found)
    return [handler for handler in found if handler.__module__.split(".")[0] == package]


def subscribed_types(package):
    """Every event type that `package` has a handler for."""
    return sorted(
        type
        for type, handlers in _HANDLERS.items()
        if any(handler.__module__.split(".")[0] == package for handler in handlers)
    )


def handlers_by_type(package):
    """{event type: [handlers defined in package]}, what the package's consumer runs."""
    return {type: handlers_for(type, package) for type in subscribed_types(package)}
