#!/bin/bash
# queue runs for the delay cases, each message with its own configuration
for i in $(seq 1 15); do
  exim4 -C /tmp/bgen/exim/en.conf -bp 2>/dev/null | awk '/^ *[0-9]+[smhd] /{id=$3} /^ +[^ ]+@/{print id, $1}' | while read id rcpt; do
    conf=en; case "$rcpt" in *e24@*) conf=de;; esac
    exim4 -C /tmp/bgen/exim/$conf.conf -M $id 2>/dev/null
  done
  sleep 20
done
