"""Settings of the command-line tour: a development site whose media come from
production, with the README's stack.

``tour.py`` starts the embedded S3 server first and passes its address and a
temporary media directory through the environment.
"""

import os

SECRET_KEY = "demo-only"
USE_TZ = True

STORAGES = {
    # Reads: production, then the local disk. Writes: the local disk only.
    "default": {
        "BACKEND": "storage_mixins.FallbackStorage",
        "OPTIONS": {"backends": ["production", "local"], "writable": "local"},
    },
    # Read-only by construction: the S3 options are nested, with no alias of
    # their own, so no alias can write to the bucket.
    "production": {
        "BACKEND": "storage_mixins.ReadOnly",
        "OPTIONS": {
            "storage": {
                "BACKEND": "storage_mixins.Caching",
                "OPTIONS": {
                    "storage": {
                        "BACKEND": "storages.backends.s3.S3Storage",
                        "OPTIONS": {
                            "bucket_name": "production-media",
                            "endpoint_url": os.environ["DEMO_S3_ENDPOINT"],
                            "access_key": "demo",
                            "secret_key": "demo",
                            "region_name": "us-east-1",
                        },
                    },
                },
            },
        },
    },
    "local": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ["DEMO_MEDIA_ROOT"], "base_url": "/media/"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
