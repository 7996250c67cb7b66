"""Helpers shared by the tests: polling (`until`), free ports. Import as `support.<module>`
(tests/ is on sys.path through its conftest)."""
