"""classify stage: what becomes of a mail, decided by the steps of steps.py, in this order:

duplicate, thread and references (threading.py, references.py), automatic mail
and bounces (automatic_mail.py, loops.py), processing rules (rules.py), create
new requests, flood limit, attachment policy. Each returns a refined Plan
(plan.py); the store is read only through the Protocols of lookups.py.
"""
