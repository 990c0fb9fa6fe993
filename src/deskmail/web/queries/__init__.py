"""Store reads of the web screens and the API, one module per resource."""
