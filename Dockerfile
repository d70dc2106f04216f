# syntax=docker/dockerfile:1
# pymescore scoring service. Build: docker build -t pymescore .   Run: see docker-compose.yml
# (not built on the development machine: it has no container engine; see README "Operations")

FROM python:3.11-slim AS build
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
# dask and s3: the same image runs the Dask scheduler and workers of the scale-out path (docs/scale-out.md)
RUN uv sync --frozen --no-dev --extra postgres --extra serve --extra mlflow --extra lightgbm --extra dask --extra s3 --extra tf

FROM python:3.11-slim AS runtime
RUN groupadd --system --gid 10001 pymescore && useradd --system --uid 10001 --gid pymescore --home /app pymescore \
    && mkdir -p /bundle /data && chown pymescore:pymescore /data
WORKDIR /app
COPY --from=build --chown=pymescore:pymescore /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYMESCORE_SERVE_BUNDLE=/bundle \
    PYMESCORE_DATABASE_URL=sqlite:////data/pymescore.db
# baked: copy a bundle into deploy/bundle/ before building; mounted: a volume at /bundle replaces it
COPY --chown=pymescore:pymescore deploy/bundle/ /bundle/
RUN rm -f /bundle/README.md \
    && python -c "from pymescore.features import compile_feature_kernels; compile_feature_kernels()"
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["pymescore", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD ["--bundle", "/bundle", "--workers", "2"]
