"""gunicorn's configuration for crowdmarket's web processes (Procfile, compose.yaml and the
systemd unit all start `gunicorn -c docs/deploy/gunicorn.conf.py marketplace.wsgi`;
bench/load.py serves the app with it too).

Threaded workers (`gthread`): a results download streams for as long as the bundle is big (a
20,000-item CSV is ~1 MB), and with sync workers every download held a whole process, so four
requesters downloading at once left none for the workers' claims (bench/load.py: p99 of the
worker loop in tens of seconds). With threads a download holds one thread and the process
keeps serving claims and submissions on the others.

Each thread keeps one PostgreSQL connection (CONN_MAX_AGE 60 s): set WEB_THREADS to the same
number in the app's environment (the settings size the connection budget from it) and budget
`max_connections` as web processes x WEB_THREADS + Celery processes + a few.
"""

import os

# All interfaces inside a container or on a PaaS (Procfile, compose); the systemd unit passes
# --bind 127.0.0.1:8000 for a host behind a local proxy.
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"  # noqa: S104  # nosec B104
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))  # about 2 per core
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
# Recycle processes now and then (a slow leak never grows unbounded); jitter so that they do
# not all restart at once.
max_requests = 2000
max_requests_jitter = 200
# Idle keep-alive connections stay open longer than a load balancer's idle timeout (60 s on
# most), so the balancer closes them, never gunicorn just as a request is sent on one (a 502
# there, a connection error for a direct client: bench/load.py counted 41 in a minute with
# gunicorn's default of 2 s, its workers pausing 5 s between tasks). With gthread an idle
# connection waits in the poller, not in a thread.
keepalive = 75
accesslog = "-"
