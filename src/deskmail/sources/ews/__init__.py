"""The EWS source: Exchange Server on premises through exchangelib.

Imported only by EWS jobs (sources.factory): exchangelib, requests and lxml
stay out of every other run.
"""
