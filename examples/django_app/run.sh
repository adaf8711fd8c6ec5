#!/bin/sh
# Run the example with hotserve, like `manage.py runserver` would:
#   sh examples/django_app/run.sh [hotserve options]   (e.g. --bind 0.0.0.0:8000)
# Migrates the sqlite database first (created, with a few demo books, on the
# first run), then serves http://127.0.0.1:8000/. Stop it with Ctrl-C.
#   PYTHON=...    the interpreter for manage.py (default: Debian's
#                 /usr/bin/python3, the one hotserve is built against)
#   HOTSERVE=...  the hotserve binary (default: build/hotserve of this
#                 repository, else hotserve on PATH)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if [ -z "${PYTHON:-}" ]; then
    PYTHON=python3
    [ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3
fi
if [ -z "${HOTSERVE:-}" ]; then
    if [ -x ../../build/hotserve ]; then
        HOTSERVE=../../build/hotserve
    elif command -v hotserve >/dev/null 2>&1; then
        HOTSERVE=hotserve
    else
        echo "run.sh: hotserve not found: build it (cmake -S . -B build &&" \
             "cmake --build build) or set HOTSERVE=/path/to/hotserve" >&2
        exit 1
    fi
fi
"$PYTHON" manage.py migrate --noinput --verbosity 0
echo "Database ready: $here/db.sqlite3 (admin user: $PYTHON manage.py createsuperuser)"
exec "$HOTSERVE" myproject.wsgi:application "$@"
