"""Sandboxed templates, responsive layout, blocks, localization and the built-in library."""
