"""django-storages' ``S3Storage``: its client (``client``), reading its objects'
bytes (``objects``), and listing it (``listing``).

Nothing here imports boto3 or django-storages at import time: an
``S3Storage`` can only exist once they are imported.
"""
