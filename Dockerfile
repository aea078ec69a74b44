# One image for the clinic assistant's three Python services; docker-compose.yml and
# deploy/helm/*.yaml name each one's command:
#   python -m serving.rasa_server run ...   the Rasa server
#   python -m serving.action_server ...     the action server
#   python -m webapp ...                    the demo page, widget files and staff inbox
#
# Nothing is trained here: `make train` builds models/clinic.tar.gz on the host (the model
# `make test` checks) and this build copies it, so the image answers as the tested model does.
# The build stops if the model is missing.
FROM python:3.10-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RASA_TELEMETRY_ENABLED=false \
    TF_CPP_MIN_LOG_LEVEL=2 \
    SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    PYTHONWARNINGS=ignore::DeprecationWarning

WORKDIR /app

# As `make install` does it: the same pip, setuptools and wheel, then the whole lock file
# without resolving (--no-deps), then pip check. Its own layer: code changes don't reinstall.
COPY requirements.txt ./
RUN pip install --quiet --upgrade pip==24.0 setuptools==70.3.0 wheel==0.45.1 \
    && pip install --quiet --no-deps -r requirements.txt \
    && pip check

COPY . .

# The code stays root's (read-only to the servers); build/ is the one writable directory.
# build/outbox exists, the user's, so a volume mounted there starts out writable by the user.
# A numeric user, so Kubernetes' runAsNonRoot can verify it.
RUN test -f models/clinic.tar.gz \
        || { echo "models/clinic.tar.gz is missing: run 'make train' first" >&2; exit 1; } \
    && useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin clinic \
    && mkdir -p build/outbox \
    && chown -R clinic:clinic build

USER 10001:10001

EXPOSE 5005 5055 8000
