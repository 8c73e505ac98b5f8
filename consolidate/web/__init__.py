"""The web console (``consolidate serve``): Ukrainian pages over the same workflows as the CLI."""
