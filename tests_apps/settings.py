"""Django settings for the apps suite (``tox -e apps``): real apps over a stack.

Each test sets ``STORAGES`` itself (the stacks, with production on the moto
server it starts); what is here is what the apps need to load. An app that is
not installed is left out, and the tests that need it fail under ``CI=true``
(skip outside CI): see ``conftest.py``.
"""

from importlib.util import find_spec

SECRET_KEY = "storage-mixins-apps-tests"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
ROOT_URLCONF = "tests_apps.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins

# The apps under test, and what they need; each is a module name to import.
WAGTAIL_APPS = [
    "wagtail.users",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail.sites",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
]
APPS_UNDER_TEST = {
    "wagtail": WAGTAIL_APPS,
    "easy_thumbnails": ["easy_thumbnails"],
    "sorl.thumbnail": ["sorl.thumbnail"],
}
MISSING_APPS = [module for module in APPS_UNDER_TEST if find_spec(module.split(".")[0]) is None]

INSTALLED_APPS = [
    *(
        app
        for module, apps in APPS_UNDER_TEST.items()
        if module not in MISSING_APPS
        for app in apps
    ),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "storage_mixins",
    "tests_apps.gallery",
]
if find_spec("django_cleanup") is None:
    MISSING_APPS.append("django_cleanup")
else:
    # Last, as its docs say; only for the models marked @cleanup.select, so
    # that Wagtail's and the thumbnailers' own deletes are tested on their own.
    INSTALLED_APPS.append("django_cleanup.apps.CleanupSelectedConfig")

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # Both thumbnailers call their tag library "thumbnail".
            "libraries": {
                name: module
                for name, module, app in [
                    (
                        "easy_thumbnails_tags",
                        "easy_thumbnails.templatetags.thumbnail",
                        "easy_thumbnails",
                    ),
                    ("sorl_thumbnail", "sorl.thumbnail.templatetags.thumbnail", "sorl.thumbnail"),
                ]
                if app not in MISSING_APPS
            },
        },
    }
]

MEDIA_URL = "/media/"
STATIC_URL = "/static/"
# MEDIA_ROOT, STATIC_ROOT and STORAGES: set by each test (conftest.py).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

WAGTAIL_SITE_NAME = "storage_mixins apps suite"
WAGTAILADMIN_BASE_URL = "http://testserver"
# Both thumbnailers raise instead of rendering an error placeholder.
THUMBNAIL_DEBUG = True
