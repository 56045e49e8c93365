"""`python -m imgfind` runs the command line."""

from .cli import main

main()
