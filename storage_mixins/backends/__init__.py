"""What is known of the backends: S3 (``s3``), local disks (``local``,
``local_files``, ``local_writes``), the others' quirks, their errors, and
listing each kind (``listing``, ``listers``).

One place knows each backend: django-storages' S3 internals are read in
``s3`` only, a backend error's meaning in ``errors`` only.
"""
