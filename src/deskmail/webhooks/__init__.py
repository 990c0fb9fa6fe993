"""Webhooks: events written to an outbox with what they report, delivered after the commit.

payloads.py   the kinds of event and their data (ids and references, never mail text)
outbox.py     queue_webhook(): the one call apply/ and intake/ make, inside their transaction
endpoints.py  the subscriptions: add, list, remove, enable, disable (secrets sealed)
signing.py    the Standard Webhooks signature
policy.py     the retry schedule and the rule that disables an endpoint
delivery.py   posts what is due with httpx, logs each attempt; send test, redeliver
log.py        the delivery log as the CLI (and the web UI) shows it

Only outbox.py and payloads.py are imported by intake: the rest (httpx, cryptography)
is imported by `deskmail serve` and `deskmail webhooks`.
"""
