"""gunicorn settings shared by every ENRS web process (make run and the container image)."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# Threaded workers keep a client's connection open between its requests (HTTP keep-alive); a
# sync worker closes every connection, so each request paid a TCP accept and close. On identity,
# alternating sync and threaded run by run with clients that keep their connection: refresh
# grants 346 -> 398 per CPU-second, client credentials 739 -> 865, logins unchanged; with
# clients that open a connection per request, the same as sync (bench/identity.py).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
# (gunicorn turns a sync worker with more than one thread into a threaded one.)
threads = int(os.environ.get("GUNICORN_THREADS", "4" if worker_class == "gthread" else "1"))
# Seconds an idle kept-alive connection stays open; waiting ones hold no thread.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
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
