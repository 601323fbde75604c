# syntax=docker/dockerfile:1
# Build wheels for the service and every provider SDK, then install them in a clean image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[providers]"

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OTP_DATA_DIR=/var/lib/otp
RUN useradd --system --uid 10001 --home-dir /srv --shell /usr/sbin/nologin otp \
    && mkdir -p /var/lib/otp && chown otp /var/lib/otp
COPY --from=build /wheels /wheels
# Exactly the wheels built above: the service and every dependency of its provider extras.
RUN pip install --no-cache-dir --no-index /wheels/*.whl \
    && rm -rf /wheels
WORKDIR /srv
COPY wsgi.py gunicorn.conf.py ./
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
STOPSIGNAL SIGTERM
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
