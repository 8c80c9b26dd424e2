"""``flowlib ui``: a read-only web UI over a profile's stores, served on 127.0.0.1.

``queries.py`` reads (through the metadata store's interface and the client), ``app.py`` is
the Starlette application (routes and Jinja2 templates, nothing else), ``server.py`` runs it
with uvicorn. Templates and the small script in ``static/`` ship with the package: no build
step, no request to the internet.
"""
