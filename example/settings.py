"""Settings of the demo: a development site whose media come from production.

``demo.py`` starts the embedded S3 server first and passes its address and a
temporary media directory through the environment.
"""

import os

SECRET_KEY = "demo-only"
USE_TZ = True

STORAGES = {
    # Reads: the local disk, then production. Writes: the local disk only.
    "default": {
        "BACKEND": "storage_mixins.FallbackStorage",
        "OPTIONS": {"backends": ["local", "production"]},
    },
    "local": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ["DEMO_MEDIA_ROOT"], "base_url": "/media/"},
    },
    "production": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": "production-media",
            "endpoint_url": os.environ["DEMO_S3_ENDPOINT"],
            "access_key": "demo",
            "secret_key": "demo",
            "region_name": "us-east-1",
            "querystring_auth": False,
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
