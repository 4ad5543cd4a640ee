# A small image of the service: dependencies built in one stage, copied into a slim runtime
# that runs as an unprivileged user. Configured by environment only (see README).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app app
COPY seed seed
# Editable, so the code runs from /srv, where alembic.ini and migrations/ sit beside it.
RUN python -m venv /venv && /venv/bin/pip install -e .

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000 \
    DATABASE_URL=sqlite:////data/summit.db \
    MIGRATE_ON_START=1 \
    SEED_ON_START=1
RUN useradd --system --uid 10001 --no-create-home --home-dir /srv summit \
    && mkdir /data && chown summit /data
WORKDIR /srv
COPY --from=build /venv /venv
COPY --from=build /srv /srv
COPY alembic.ini docker-entrypoint.sh ./
COPY migrations migrations
USER summit
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ['PORT'], timeout=2)"
ENTRYPOINT ["./docker-entrypoint.sh"]
