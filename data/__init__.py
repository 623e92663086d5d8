"""Storage, file formats and I/O: the ground floor."""
