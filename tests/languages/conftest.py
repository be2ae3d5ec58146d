from tests.publish.factories import make_response  # noqa: F401
