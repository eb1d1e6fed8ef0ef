"""The demo: a development site whose media come from a production bucket.

``run.py`` starts the embedded S3 server and passes its address, and a
temporary media directory, through the environment.
"""

import os

SECRET_KEY = "demo-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True

INSTALLED_APPS = ["django.contrib.staticfiles", "storage_mixins", "demo_site", "debug_toolbar"]
MIDDLEWARE = [
    # First: it sees every storage call of the request, and its Server-Timing
    # entry ("storage;dur=...;desc=...") is added last, after the toolbar's.
    "storage_mixins.middleware.StorageTimingMiddleware",
    "debug_toolbar.middleware.DebugToolbarMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "demo_site.request_log.StorageLogMiddleware",
]
INTERNAL_IPS = ["127.0.0.1"]
STATIC_URL = "/static/"
DEBUG_TOOLBAR_PANELS = [
    "debug_toolbar.panels.timer.TimerPanel",
    "debug_toolbar.panels.request.RequestPanel",
    "debug_toolbar.panels.templates.TemplatesPanel",
    "storage_mixins.panels.StoragePanel",
]
DEBUG_TOOLBAR_CONFIG = {
    "SHOW_TOOLBAR_CALLBACK": "debug_toolbar.middleware.show_toolbar",
    # Collapsed to its handle at the right edge: open, it would cover the gallery.
    "SHOW_COLLAPSED": True,
}
ROOT_URLCONF = "demo_site.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
# The rows of the "production dump": run.py creates them in a temporary file.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DATABASE", ":memory:"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

MEDIA_ROOT = os.environ["DEMO_MEDIA_ROOT"]
MEDIA_URL = "/media/"

# The README's stack: production first, read-only and cached; the local disk
# takes every write. Production's alias is itself read-only (its S3 options
# are nested, with no alias of their own), so no code that names an alias can
# write to the bucket. Caching answers exists(), size() and url() from one
# listing per directory: the gallery costs two S3 requests cold, none warm.
# Each layer is logged, so the page can show which one answered. Deleting a
# production file hides it (a tombstone on the local disk); the bucket itself
# is never touched. Last, placeholders: a file that a row of the database
# refers to and no layer has is drawn at the size the row records.
STORAGES = {
    "default": {
        "BACKEND": "storage_mixins.FallbackStorage",
        "OPTIONS": {
            "backends": ["production", "local"],
            "writable": "local",
            "on_delete": "hide",
            "placeholders": True,
        },
    },
    "production": {
        "BACKEND": "storage_mixins.Logging",
        "OPTIONS": {
            "logger": "storage_mixins.production",
            "storage": {
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
        },
    },
    "local": {
        "BACKEND": "storage_mixins.Logging",
        "OPTIONS": {
            "logger": "storage_mixins.local",
            "storage": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
            },
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"short": {"format": "%(levelname)-7s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "short"}},
    "loggers": {"storage_mixins": {"handlers": ["console"], "level": "DEBUG"}},
}
