FROM python:3.11-slim
WORKDIR /app
# Pango for WeasyPrint (the Merkliste as PDF)
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/base.txt
COPY libs/ libs/
COPY services/web/ services/web/
RUN pip install --no-cache-dir -e libs/contracts -e libs/kit -e services/web
# Runs as an unprivileged user; its local data (the embedded session key) in a folder of its own.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/lotse --no-create-home lotse \
    && install -d -o lotse -g lotse -m 0700 /var/lib/lotse
ENV LOTSE_VAR_DIR=/var/lib/lotse \
    LOTSE_METRICS_HOST=0.0.0.0 \
    LOTSE_HEALTH_URL=http://127.0.0.1:8000/health \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8000
# Liveness of the process the container runs: the API's /health, or a worker's (LOTSE_HEALTH_URL at its
# LOTSE_METRICS_PORT, set by the deployment).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['LOTSE_HEALTH_URL'], timeout=4)"]
CMD ["lotse-web", "serve"]
