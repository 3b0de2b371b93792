# kafka-failover-proxy: a two-stage image, the wheel built in the first, installed in the second.
# It cannot be built on the project's development machine (no Docker engine runs there); tests/unit/
# test_packaging.py checks its structure against pyproject.toml and config/proxy.yaml instead.
#
# The example config binds every listener to 127.0.0.1, which only the container itself reaches. Mount
# your own file over /etc/kafka-failover-proxy/proxy.yaml with listeners.bind_host 0.0.0.0, an
# advertised_host your clients can dial, and admin.bind_host 0.0.0.0 if Prometheus scrapes from outside.
# If the admin API is not on 127.0.0.1:9300 in the container, set KFP_HEALTHZ_URL to match.

FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY protocol/ protocol/
COPY proxy/ proxy/
# The project's wheel and a wheel of every runtime dependency, so the runtime stage needs no index.
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    KFP_HEALTHZ_URL=http://127.0.0.1:9300/healthz
# uid 10001, for orchestrators that want a numeric runAsUser.
RUN useradd --system --user-group --uid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin kfp \
    && install -d -o kfp -g kfp /var/lib/kafka-failover-proxy
COPY --from=builder /wheels /tmp/wheels
RUN pip install --no-index --find-links=/tmp/wheels /tmp/wheels/kafka_failover_proxy-*.whl && rm -rf /tmp/wheels
COPY config/proxy.yaml /etc/kafka-failover-proxy/proxy.yaml
# A writable place for admin.audit_log, e.g. /var/lib/kafka-failover-proxy/audit.jsonl.
WORKDIR /var/lib/kafka-failover-proxy
USER kfp
# Defaults of config/proxy.yaml: bootstrap 9192, virtual brokers 9200..9207 (max_brokers 8), admin 9300.
EXPOSE 9192 9200-9207 9300
# /healthz answers "ok" once the admin API listens (after the upstream views, so allow a start period).
# python:3.11-slim has no curl; urlopen raises, so the exit code is 1, on refusal or any non-2xx answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['KFP_HEALTHZ_URL'], timeout=3)"]
ENTRYPOINT ["kafka-failover-proxy", "run"]
CMD ["--config", "/etc/kafka-failover-proxy/proxy.yaml"]
