"""How the directory is reached: web API, command line."""
