"""What the wrappers use: the metadata cache and its namespaces, directory
listings in the cache, local copies of contents, streaming and copying
files, batched lookups, circuit breakers, and views of a storage whose
writes are checked and heard.
"""
