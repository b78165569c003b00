"""Hidden tests, one module per lab (`labNN_name`), built on `core`. Instructor side only."""
