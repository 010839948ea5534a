"""Reproducible corpus of real images from pinned Debian packages; see README.md beside this file."""
