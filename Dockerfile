# One image for every Sada process; the command picks which one runs:
#   python -m gunicorn --config python:services.gunicorn_conf --bind 0.0.0.0:8001 'intake.app:create_app()'
#   (routing: 8002, reporting: 8003), python -m routing.worker, python -m reporting.projector
# Configuration comes only from SADA_* environment variables (services/config.py).
FROM python:3.11-slim

# tini is PID 1: it forwards SIGTERM to the process and reaps children, so `docker stop` and a
# Kubernetes rollout stop a worker at once instead of waiting for the kill timeout.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY pyproject.toml README.md ./
COPY sada ./sada
COPY services ./services
COPY intake ./intake
COPY routing ./routing
COPY reporting ./reporting
RUN pip install . \
 && groupadd --gid 1000 sada \
 && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /var/lib/sada sada \
 && mkdir -p /var/lib/sada/keks \
 && chown 1000:1000 /var/lib/sada /var/lib/sada/keks \
 && chmod 0700 /var/lib/sada/keks

# Nothing in the Kafka + MongoDB shape writes local files; anything that does goes here.
ENV SADA_DATA_DIR=/var/lib/sada
USER 1000:1000

# The three HTTP services (SADA_INTAKE_PORT, SADA_ROUTING_PORT, SADA_REPORTING_PORT) and the
# workers' metrics port.
EXPOSE 8001 8002 8003 9400

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "-m", "gunicorn", "--config", "python:services.gunicorn_conf", "--bind", "0.0.0.0:8001", "intake.app:create_app()"]
