#!/usr/bin/env bash
# Installs and starts what the test suite needs from Debian: Dovecot (IMAP, POP3)
# and a running PostgreSQL on 127.0.0.1:5432. Idempotent; run as root (or with sudo).
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/pop3 ] || need+=(dovecot-pop3d)
command -v openssl >/dev/null || need+=(openssl)
command -v make >/dev/null || need+=(make)
command -v systemd-analyze >/dev/null || need+=(systemd)  # checks deploy/systemd/deskmail.service

if [ ${#need[@]} -gt 0 ]; then
    echo "installing from Debian: ${need[*]}"
    # Keep the packages' postinst from starting a system-wide Dovecot: the tests
    # run their own private instances on random loopback ports.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need[@]}"
    [ "$made_policy" = 1 ] && as_root rm -f /usr/sbin/policy-rc.d
fi

# PostgreSQL is provided by the machine; start the cluster if it is installed but down.
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        echo "starting PostgreSQL"
        as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
fi
