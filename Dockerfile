# Stratus bot. Settings come from STRATUS_* environment variables or a TOML file (STRATUS_CONFIG).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY pvesim ./pvesim
COPY tgsim ./tgsim
RUN pip install . \
    && useradd --system --create-home --uid 10001 stratus \
    && mkdir -p /app/data && chown stratus /app/data

USER stratus
ENV STRATUS_DATA_DIR=/app/data
VOLUME ["/app/data"]
CMD ["python", "-m", "bot"]
