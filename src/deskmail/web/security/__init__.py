"""Who is asking and what they may do: passwords, sessions, tokens, CSRF, headers, throttling."""
