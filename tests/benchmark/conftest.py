import pytest

from benchmark.providers.testserver import LLMTestServer, ServerBehaviour
from benchmark.synthetic import synthetic_items, write_itembank


@pytest.fixture
def llm_server():
    """Start a local OpenAI/Anthropic test server with the given behaviour; stopped after the test."""
    servers = []

    def start(**behaviour) -> LLMTestServer:
        server = LLMTestServer(ServerBehaviour(**behaviour)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def bank_file(tmp_path):
    return write_itembank(tmp_path / "bank.jsonl", synthetic_items(12, seed=3))


@pytest.fixture
def bank(db, bank_file):
    from benchmark.services import itembank_import

    return itembank_import(path=bank_file, name="test-bank")
