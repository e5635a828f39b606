"""An S3 client from the standard AWS settings, and the errors it raises, in govml's words.

The endpoint, region and credentials come from where every AWS tool reads them:
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``) for MinIO or another S3-compatible server,
``AWS_REGION`` / ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_SESSION_TOKEN``, ``AWS_PROFILE`` and the shared config files, or an instance or pod
role. govml never stores them.
"""

from __future__ import annotations

from typing import Any

from govml.errors import ConfigurationError

ERR_NO_BOTO3 = "S3 storage needs boto3"
HINT_NO_BOTO3 = "pip install 'govml[s3]'"
RETRIES = 5


def s3_client() -> Any:
    """Return a boto3 S3 client configured from the standard AWS settings.

    Raises
    ------
    ConfigurationError
        When boto3 is not installed.
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ConfigurationError(ERR_NO_BOTO3, hint=HINT_NO_BOTO3) from None
    config = Config(
        retries={"max_attempts": RETRIES, "mode": "standard"},
        # Path-style addressing works with MinIO and AWS alike.
        s3={"addressing_style": "path"},
        connect_timeout=10,
        read_timeout=60,
    )
    return boto3.session.Session().client("s3", config=config)


def error_code(exc: BaseException) -> str:
    """Return the S3 error code of a botocore ``ClientError`` (``NoSuchKey``, ``404``...)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_missing(exc: BaseException) -> bool:
    """Return True when an S3 error says the object or bucket does not exist."""
    return error_code(exc) in {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}


def client_errors() -> tuple[type[BaseException], ...]:
    """Return the exception types a botocore call raises for service and network failures."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)
