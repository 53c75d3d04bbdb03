"""The fuzz harness of pysmbd's core, shared by the hypothesis tests (tests/fuzz) and the atheris bench
(bench/fuzz): SMB2 frame builders, the recorded corpus (kept in tests/fuzz/corpus), and the target."""
