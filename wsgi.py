"""WSGI entry point: `gunicorn wsgi:app`; also found by the `flask` command."""

from eventbook import create_app

app = create_app()
