import pytest

from web_calls import signed_in


@pytest.fixture
def owner_web(owner):
    """The organization's owner, signed in."""
    return signed_in(owner)
