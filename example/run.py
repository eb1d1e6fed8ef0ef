"""``make demo``: the demo site, with an embedded S3 server as "production".

Starts moto's S3 server on a free loopback port, fills a "production" bucket
with sample images drawn at start, writes the rows of a "production dump"
(photos whose files are nowhere) into a temporary SQLite database, and serves
the site in ``demo_site/`` until Ctrl-C, which stops both. Nothing is
downloaded, and nothing outlives it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    options = parser.parse_args(argv)

    import boto3
    from moto.server import ThreadedMotoServer
    from sample_images import png, samples

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the S3 server's request log
    s3_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s3_server.start()
    try:
        host, port = s3_server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="demo", aws_secret_access_key="demo",
        )  # fmt: skip
        client.create_bucket(Bucket="production-media")
        for key, body in samples().items():
            # Private, as the README's stack assumes: the page's URLs are signed.
            client.put_object(
                Bucket="production-media", Key=key, Body=body, ContentType="image/png"
            )
        with (
            tempfile.TemporaryDirectory(prefix="storage-mixins-demo-") as media_root,
            tempfile.TemporaryDirectory(prefix="storage-mixins-demo-db-") as database,
        ):
            (Path(media_root) / "uploads").mkdir()
            (Path(media_root) / "uploads" / "welcome.png").write_bytes(
                png(240, 160, (255, 255, 255), (46, 204, 113))
            )
            os.environ["DEMO_DATABASE"] = str(Path(database) / "demo.sqlite3")
            return serve(options.host, options.port, endpoint, media_root)
    finally:
        s3_server.stop()


def serve(host: str, port: int, endpoint: str, media_root: str) -> int:
    os.environ["DEMO_S3_ENDPOINT"] = endpoint
    os.environ["DEMO_MEDIA_ROOT"] = media_root
    os.environ["DJANGO_SETTINGS_MODULE"] = "demo_site.settings"
    import django

    django.setup()
    dump_rows()
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import (
        ThreadedWSGIServer,
        WSGIRequestHandler,
        get_internal_wsgi_application,
    )

    server = ThreadedWSGIServer((host, port), WSGIRequestHandler)
    # Static files as runserver serves them: the debug toolbar's scripts.
    server.set_app(StaticFilesHandler(get_internal_wsgi_application()))
    print(f"Demo site:    http://{host}:{server.server_address[1]}/", flush=True)
    print(f"Embedded S3:  {endpoint}  (bucket production-media)", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("Stopped the site and the embedded S3 server.", flush=True)
    return 0


def dump_rows() -> None:
    """The production dump's rows whose files are nowhere, with their sizes."""
    from demo_site.models import Photo
    from django.core.management import call_command
    from sample_images import LOST

    call_command("migrate", run_syncdb=True, verbosity=0)
    Photo.objects.bulk_create(
        Photo(image=name, width=width, height=height) for name, (width, height) in LOST.items()
    )


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
