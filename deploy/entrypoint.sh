#!/bin/sh
# Container entrypoint: `web` (default) migrates then runs gunicorn; `worker` runs the service's
# worker; anything else is run as given (e.g. `flask --app identity keys rotate`).
# MIGRATE_AT_START=false skips the migration of `web`: with several web replicas starting at once
# (Kubernetes), one Job migrates instead, since Alembic takes no lock and concurrent runs collide.
set -eu

case "${1:-web}" in
    web)
        if [ "${MIGRATE_AT_START:-true}" != "false" ]; then
            flask --app "$SERVICE" migrate
        fi
        # gunicorn's workers share this folder for metrics; it must start empty.
        rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
        exec gunicorn --config /app/deploy/gunicorn.conf.py "$SERVICE:create_app()"
        ;;
    worker)
        # The worker serves no /metrics: its counters stay in memory, not in the web's folder.
        unset PROMETHEUS_MULTIPROC_DIR
        exec flask --app "$SERVICE" worker
        ;;
    *)
        exec "$@"
        ;;
esac
