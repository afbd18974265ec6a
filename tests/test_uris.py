import pytest

from hpcast._uris import redact


@pytest.mark.parametrize(("uri", "shown"), [
    ("http://ana:s3cret@127.0.0.1:5000", "http://ana:***@127.0.0.1:5000"),
    ("postgresql+psycopg2://ana:p%40ss@db:5432/mlflow", "postgresql+psycopg2://ana:***@db:5432/mlflow"),
    ("https://ghp_token@mlflow.example/api", "https://***@mlflow.example/api"),
    ("s3://bucket/prefix", "s3://bucket/prefix"),
    ("sqlite:///home/ana/hpcast-data/mlflow.db", "sqlite:///home/ana/hpcast-data/mlflow.db"),
    ("http://host/path?user=a@b", "http://host/path?user=a@b"),  # an @ after the host is not user-info
])
def test_credentials_never_shown(uri, shown):
    assert redact(uri) == shown
    assert "s3cret" not in redact(uri) and "token" not in redact(uri)
