# A serving image for one registered model version, written by `workbench image build`.
# Layers go from what changes least to what changes most: the Python environment (pinned to
# the libraries that trained the model), then the serving code, then the model itself, so a
# rebuild after only the model changed reuses every layer before the last COPY.
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH PYTHONPATH=/app WORKBENCH_PORT=8000

# Wheels for offline builds (an empty folder otherwise) and the pinned requirements.
COPY wheels/ /tmp/wheels/
COPY requirements.txt /tmp/requirements.txt
ARG PIP_FLAGS=""
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-compile ${PIP_FLAGS} -r /tmp/requirements.txt \
 && /opt/venv/bin/pip uninstall --yes --quiet pip \
 && find /opt/venv/lib -depth -type d \( -name __pycache__ -o -name tests \) -exec rm -rf {} + \
 && rm -rf /tmp/wheels /tmp/requirements.txt

RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin serve \
 && mkdir -p /data && chown serve /data

COPY app/ /app/
COPY model/ /model/

USER serve
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('WORKBENCH_PORT', '8000') + '/health', timeout=2)"]
ENTRYPOINT ["python", "-m", "pipelines.serving", "--bundle", "/model", "--log-dir", "/data"]
CMD ["--host", "0.0.0.0", "--port", "8000"]
