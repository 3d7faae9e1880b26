"""gunicorn settings shared by every ENRS web process (make run and the container image)."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
graceful_timeout = 10
# JSON request logs come from the application itself; gunicorn's access log would repeat them.
accesslog = None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket has one path per user: identity and the portal would share it.
control_socket_disable = True


def child_exit(server, worker):
    """Let prometheus-client forget the metric files of a worker that has gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
