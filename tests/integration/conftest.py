from collections.abc import Iterator

import pytest
from streaming import Broker, broker_for_tests


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """The one broker integration tests share (see ``streaming.broker_for_tests``)."""
    with broker_for_tests(tmp_path_factory.mktemp("broker")) as found:
        yield found
