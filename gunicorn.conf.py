"""gunicorn settings read by ``gunicorn wsgi:app`` run from this directory.

Workers, bind address and worker class stay on the command line; what is here applies to
every deployment.
"""

import gc


def when_ready(_server: object) -> None:
    """Before the workers are forked: move what the loaded application holds (modules,
    mappers, compiled SQL) out of the garbage collector's sight. Without it, the
    collector's full passes walk those objects again and again in every worker, a few
    milliseconds each time, in the middle of requests."""
    gc.collect()
    gc.freeze()
