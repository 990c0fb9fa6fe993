"""Showing a stored mail safely: its HTML in a sandboxed frame, its attachments and raw .eml.

sanitise.py makes the frame's HTML (nh3; inline images as data: URIs, remote images
only when asked), frame.py the frame's response and its own strict CSP, downloads.py
the attachment and .eml responses (never rendered inline), routes.py the page routes.
"""
