"""Personal data: keyed hashes of forgotten numbers, erasure (`forget`), retention (`purge`), file modes."""
