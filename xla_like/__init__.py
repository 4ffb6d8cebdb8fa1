"""The IR (`ir`), its builder, printer, parser and verifier, the passes and the backends."""
