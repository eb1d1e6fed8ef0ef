"""Users with credentials and policies on the moto S3 server, and IAM enforced.

moto's server accepts any credentials unless IAM is enforced
(``moto.core.authorization.enable_iam_authentication``: its
``INITIAL_NO_AUTH_ACTION_COUNT`` set to 0). The server runs in this process,
so enforcing it here enforces it there. Seed buckets before: the tests' own
observer client has no IAM user.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import boto3

# moto checks the name of the operation as the action (s3:ListObjectsV2,
# s3:HeadObject) where AWS checks s3:ListBucket and s3:GetObject: policies
# here name both.
READ_OBJECTS = ["s3:GetObject", "s3:HeadObject"]
LIST = ["s3:ListBucket", "s3:ListObjects", "s3:ListObjectsV2"]
# What a reader of production's media may do: read objects, and list the bucket.
READ = READ_OBJECTS + LIST


def user(s3: Any, name: str, actions: list[str], bucket: str) -> dict[str, str]:
    """A new IAM user allowed ``actions`` on ``bucket`` and its objects: its
    ``access_key`` and ``secret_key``, as S3Storage's options."""
    iam = boto3.client("iam", endpoint_url=s3.server.endpoint_url, region_name="us-east-1")
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": actions,
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="media", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}


@contextlib.contextmanager
def enforced() -> Iterator[None]:
    """Meanwhile, the server checks every request's signature and policy."""
    from moto.core.authorization import enable_iam_authentication

    with enable_iam_authentication():
        yield
