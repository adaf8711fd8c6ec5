#!/bin/sh
# Apply the migrations (creates the sqlite database on the first run), then
# run the command (hotserve, see docker-compose.yml).
set -e
if [ "${DJANGO_MIGRATE:-1}" = "1" ]; then
    python3 manage.py migrate --noinput --verbosity 0
fi
exec "$@"
