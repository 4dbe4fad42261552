"""What Celery workers load: ``celery -A purchasing.celery_worker worker -Q billing,render``.

The Flask application is made from the environment (``DATABASE_URL``, ``CELERY_BROKER_URL``...),
exactly as the web server makes it; it is ``flask_app``, not ``app``, which Celery would
take for its own application.
"""

from __future__ import annotations

from purchasing import create_app
from purchasing.celery_app import celery_for

flask_app = create_app()
celery = celery_for(flask_app)
