"""Test support code shared by the unit and integration tests (emulated peers, fixtures)."""
