"""A local server speaking the S3 protocol (moto in server mode, a thread of the test process), and the
environment a pymescore command reads it through: the standard AWS variables and PYMESCORE_S3_ENDPOINT."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class S3:
    endpoint: str
    env: dict[str, str]

    def bucket(self) -> str:
        """A new empty bucket; its s3:// URL."""
        import boto3

        name = f"pymescore-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
        client.create_bucket(Bucket=name)
        return f"s3://{name}"

    def keys(self, url: str) -> list[str]:
        """Every object key under an s3:// URL (bucket or prefix), sorted."""
        from pymescore.storage import filesystem

        fs, path = filesystem(url)
        return sorted(str(k)[len(path) :].lstrip("/") for k in fs.find(path))


@contextmanager
def s3_server() -> Iterator[S3]:
    """Start moto's S3 server on a free port and point the AWS variables at it (restored afterwards)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server._server.server_port  # type: ignore[union-attr]  # moto picks the free port; no public getter
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "PYMESCORE_S3_ENDPOINT": endpoint}  # fmt: skip
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield S3(endpoint, env)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
