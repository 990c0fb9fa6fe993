"""outbound stage: automatic mail (templates, outbox, SMTP) and the per-sender flood limit."""
