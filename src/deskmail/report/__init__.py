"""Plain-text views of what deskmail made, for the command line."""
