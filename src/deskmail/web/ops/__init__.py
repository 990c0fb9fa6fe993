"""For operators and their tools: /healthz, /readyz, /metrics (no login; no secrets in them)."""
