# syntax=docker/dockerfile:1
# Build a wheel in one stage, install it into a slim runtime that runs as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY omnibot ./omnibot
COPY omnibot_sandbox ./omnibot_sandbox
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT=5000
RUN useradd --create-home --uid 10001 omnibot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl pytest && rm -rf /wheels
WORKDIR /app
# Tests ride along so the seed's `docker-compose exec bot pytest` keeps working.
COPY --chown=omnibot:omnibot tests ./tests
COPY --chown=omnibot:omnibot pyproject.toml ./
USER omnibot
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '5000'), timeout=2)"
CMD ["sh", "-c", "omnibot db upgrade && exec omnibot serve --port ${PORT}"]
