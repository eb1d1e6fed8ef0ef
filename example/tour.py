"""A command-line tour: a dev site's media over a production S3 bucket.

Starts moto's S3 server on a free loopback port, fills a "production" bucket,
and goes through what a development site does with its media, printing what
happens. Run it with ``make tour`` (or ``python example/tour.py`` where the
test dependencies are installed); it needs no network and leaves nothing
behind. ``make demo`` runs the demo *site*.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import boto3
import django
from moto.server import ThreadedMotoServer

BUCKET = "production-media"
PRODUCTION_FILES = {
    "photos/beach.jpg": b"\xff\xd8\xff production beach",
    "photos/mountain.jpg": b"\xff\xd8\xff production mountain",
    "documents/menu.pdf": b"%PDF-1.7 production menu",
}


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with tempfile.TemporaryDirectory(prefix="storage-mixins-demo-") as local_dir:
            return run(endpoint, Path(local_dir))
    finally:
        server.stop()


def run(endpoint: str, local_dir: Path) -> int:
    credentials = {"aws_access_key_id": "demo", "aws_secret_access_key": "demo"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials)
    client.create_bucket(Bucket=BUCKET)
    for key, data in PRODUCTION_FILES.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=data)

    os.environ["DEMO_S3_ENDPOINT"] = endpoint
    os.environ["DEMO_MEDIA_ROOT"] = str(local_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "settings"  # example/settings.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    django.setup()
    logging.basicConfig(
        level=logging.WARNING, format="    log: %(levelname)s %(message)s", stream=sys.stdout
    )

    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    from storage_mixins import ReadOnlyError

    media = storages["default"]
    requests = count_requests(storages["production"])

    def layer_of(name: str) -> str:
        return "local" if media.which(name) is media.write_layer else "production, read-only"

    step("The stack")
    print(f"    {media!r}")

    step("Reads fall through to production")
    for name in PRODUCTION_FILES:
        with media.open(name) as handle:
            print(f"    {name}: {len(handle.read())} bytes, from {layer_of(name)}")

    step("Urls of production files cost no S3 request")
    requests.clear()
    for name in PRODUCTION_FILES:
        print(f"    {media.url(name)}")
    print(f"    S3 requests for {len(PRODUCTION_FILES)} urls: {sum(requests.values())}")

    step("An upload lands locally, under a name production does not use")
    name = media.save("photos/beach.jpg", ContentFile(b"dev beach"))
    print(f"    saved as {name!r}, in {layer_of(name)}")
    print(f"    on disk: {local_dir / name}")

    step("Deleting a production file does nothing")
    media.delete("photos/mountain.jpg")
    print(f"    photos/mountain.jpg still exists: {media.exists('photos/mountain.jpg')}")

    step("Production's own alias is read-only too: no code that names it can write")
    try:
        storages["production"].save("photos/new.jpg", ContentFile(b"x"))
    except ReadOnlyError as error:
        print(f"    ReadOnlyError: {error}")

    step("The production bucket is unchanged")
    keys = {o["Key"]: o["Size"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]}
    unchanged = keys == {key: len(data) for key, data in PRODUCTION_FILES.items()} and all(
        client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
        for key, data in PRODUCTION_FILES.items()
    )
    print(f"    keys: {sorted(keys)}")
    print(f"    bytes identical: {unchanged}")
    return 0 if unchanged else 1


def count_requests(s3_storage: object) -> Counter[str]:
    """Count the HTTP requests the production storage's client sends, by method."""
    counts: Counter[str] = Counter()

    def record(request: object, **kwargs: object) -> None:
        counts[request.method] += 1  # type: ignore[attr-defined]

    for connection in (s3_storage.connection, s3_storage.unsigned_connection):  # type: ignore[attr-defined]
        connection.meta.client.meta.events.register("before-send.s3", record)
    return counts


def step(title: str) -> None:
    print(f"\n{title}")


if __name__ == "__main__":
    sys.exit(main())
