#!/bin/sh
# Migrate and seed when asked to (MIGRATE_ON_START, SEED_ON_START: 1 or 0), then serve.
# With several replicas, run the migrations once per deployment instead: MIGRATE_ON_START=0
# here, and `alembic upgrade head` as a separate step.
set -eu
if [ "${MIGRATE_ON_START:-1}" = "1" ]; then
    alembic upgrade head
fi
if [ "${SEED_ON_START:-1}" = "1" ]; then
    python -m seed --if-empty
fi
# uvicorn finishes the requests in flight on SIGTERM, for up to 20 seconds.
exec uvicorn --factory app.main:create_app --host 0.0.0.0 --port "${PORT:-8000}" \
    --no-access-log --loop asyncio --timeout-graceful-shutdown 20 "$@"
