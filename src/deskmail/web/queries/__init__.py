"""Reads of the store for the pages and the API, one module per resource."""
