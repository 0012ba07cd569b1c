"""The benchmark's local LLM test server and item-bank fixtures, reused for the LLM fault tests."""

from tests.benchmark.conftest import bank, bank_file, llm_server  # noqa: F401
