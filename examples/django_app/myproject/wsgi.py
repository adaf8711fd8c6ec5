"""WSGI entry point: `hotserve myproject.wsgi:application` serves it in
development, gunicorn/uwsgi in production."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings")

application = get_wsgi_application()
