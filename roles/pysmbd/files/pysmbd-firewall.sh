#!/bin/sh
# Open the given ports for pysmbd in whichever host firewall is active, idempotently.
# Usage: pysmbd-firewall.sh "tcp/4445 tcp/14445 udp/8443"
# Prints "changed: ..." when it changed something, "unchanged" otherwise, "none" when no firewall is active.
set -eu
want="$1"
tag="smb.alternative_ports pysmbd"

if command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; then
    changed=""
    current="$(firewall-cmd --permanent --list-ports)"
    for spec in $want; do
        port="${spec#*/}/${spec%/*}"
        case " $current " in *" $port "*) ;; *)
            firewall-cmd --permanent --add-port="$port" >/dev/null
            firewall-cmd --add-port="$port" >/dev/null
            changed="$changed $port" ;;
        esac
    done
    [ -n "$changed" ] && echo "changed: firewalld opened$changed" || echo unchanged
    exit 0
fi

if command -v nft >/dev/null 2>&1 && nft list chain inet filter input >/dev/null 2>&1; then
    tcp="$(for s in $want; do case "$s" in tcp/*) printf '%s, ' "${s#tcp/}";; esac; done | sed 's/, $//')"
    udp="$(for s in $want; do case "$s" in udp/*) printf '%s, ' "${s#udp/}";; esac; done | sed 's/, $//')"
    rules=""
    [ -n "$tcp" ] && rules="${rules}tcp dport { $tcp } accept comment \"$tag\"
"
    [ -n "$udp" ] && rules="${rules}udp dport { $udp } accept comment \"$tag\"
"
    # Compare what is there (our rules only, recognised by their comment) with what we want.
    have="$(nft list chain inet filter input | grep -F "comment \"$tag\"" | sed 's/^[[:space:]]*//' || true)"
    wanted="$(printf '%s' "$rules" | sed '/^$/d')"
    if [ "$(printf '%s\n' "$have" | sed 's/{ \([0-9]*\) }/\1/g' | sort)" = "$(printf '%s\n' "$wanted" | sed 's/{ \([0-9]*\) }/\1/g' | sort)" ]; then
        echo unchanged
        exit 0
    fi
    script=""
    for handle in $(nft -a list chain inet filter input | grep -F "comment \"$tag\"" | sed -n 's/.*# handle \([0-9]*\)$/\1/p'); do
        script="${script}delete rule inet filter input handle $handle
"
    done
    script="${script}$(printf '%s' "$rules" | sed '/^$/d; s/^/insert rule inet filter input /')
"
    # One nft transaction: the old rules go and the new ones come together, or nothing changes.
    printf '%s' "$script" | nft -f -
    echo "changed: nftables inet filter input accepts $want"
    exit 0
fi
echo none
