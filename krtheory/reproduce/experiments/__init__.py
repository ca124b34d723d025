"""One module per reproduction; each defines ``EXPERIMENT`` and is discovered by the registry."""
