"""Where the recorded provider payloads live: inside the repository, so the suite needs
nothing beside the clone (provenance of each file: tests/fixtures/providers/README.md)."""

from pathlib import Path

PROVIDER_SAMPLES = Path(__file__).resolve().parent / "fixtures" / "providers"
