#!/usr/bin/env bash
# Two (or more) "hosts" on one machine, made of Linux network namespaces, for real multi-host MPI
# runs in tests: each host has its own network stack, address and host name; they reach each other
# only over TCP through a bridge. Needs root and `ip` (iproute2) and `unshare` (util-linux); no ssh.
#
#   scripts/netns_hosts.sh up            create the hosts; prints `hostfile=`, `agent=`, `subnet=`, `hosts=`
#   scripts/netns_hosts.sh down          kill whatever still runs in them and delete them (always do this)
#   scripts/netns_hosts.sh mpirun ARGS   mpirun started on host 0 across all hosts, with the options that work
#   scripts/netns_hosts.sh run N CMD...  run CMD on host N (0-based) with that host's network and host name
#   scripts/netns_hosts.sh agent HOST CMD...   the rsh agent mpirun calls instead of ssh (maps HOST to its namespace)
#   scripts/netns_hosts.sh cut N | heal N      unplug / replug host N's cable (a lost network, for failure tests)
#   scripts/netns_hosts.sh limit N RATE        what host N sends goes at most at RATE (tc's units: 1gbit,
#                                              100mbit), like a lab network; `limit N none` lifts it
#   scripts/netns_hosts.sh block N FIRST-LAST  TCP to and from host N's ports FIRST..LAST stalls, as
#                                              behind a firewall that drops them; `unblock N` lifts it
#                                              (block and limit replace each other)
#   scripts/netns_hosts.sh status        show the namespaces and addresses
#
# Running any command across the two hosts, e.g. a pretraining run with one rank per host:
#
#   scripts/netns_hosts.sh up
#   trap 'scripts/netns_hosts.sh down' EXIT
#   scripts/netns_hosts.sh mpirun -np 2 --bind-to none "$(swift build --show-bin-path)/simclr" pretrain ...
#
# which is the same as running, on host 0 (`run 0 mpirun ...`):
#
#   mpirun --hostfile $hostfile --mca plm_rsh_agent $agent --mca btl tcp,self \
#          --mca btl_tcp_if_include $subnet --mca oob_tcp_if_include $subnet --mca mpi_yield_when_idle 1 ...
#
# Add `--mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3`
# when a test cuts a cable: without keepalives mpirun waits for a lost host forever.
# Every host sees the same file system, so paths are the same everywhere. The files written by
# `up` (hostfile, agent) live in /tmp/PREFIX. No ssh is involved: the agent is `ip netns exec`.
#
# Settings (environment): SIMCLR_NETNS_PREFIX (default simclr-netns) names the namespaces
# PREFIX-br, PREFIX-0, PREFIX-1 ..., the hosts PREFIX-host0 ..., and the state folder
# /tmp/PREFIX; use different prefixes for sets that exist at the same time. SIMCLR_NETNS_SUBNET
# (default 10.213.7) is the /24 the hosts are numbered in (.1, .2, ...); it exists only inside the
# namespaces, so it cannot disturb the machine's own network. SIMCLR_NETNS_HOSTS (default 2) is
# the number of hosts, SIMCLR_NETNS_SLOTS (default 1) the ranks per host in the hostfile.
#
# Nothing here touches the root namespace's interfaces or routes: the bridge lives in a namespace
# of its own and every veth pair is created directly between namespaces.
set -euo pipefail

prefix=${SIMCLR_NETNS_PREFIX:-simclr-netns}
subnet=${SIMCLR_NETNS_SUBNET:-10.213.7}
count=${SIMCLR_NETNS_HOSTS:-2}
slots=${SIMCLR_NETNS_SLOTS:-1}
state=/tmp/$prefix
bridge_ns=$prefix-br
self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

say() { printf 'netns_hosts: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

host_ns() { printf '%s-%s' "$prefix" "$1"; }
host_name() { printf '%s-host%s' "$prefix" "$1"; }
host_address() { printf '%s.%s' "$subnet" "$(($1 + 1))"; }

# The index of a host given as an address of the subnet, a host name, or an index.
host_index() {
    local host=$1 i
    for ((i = 0; i < count; i++)); do
        if [ "$host" = "$(host_address "$i")" ] || [ "$host" = "$(host_name "$i")" ] || [ "$host" = "$i" ]; then
            printf '%s' "$i"
            return 0
        fi
    done
    die "unknown host '$host' (expected one of $(for ((i = 0; i < count; i++)); do printf '%s ' "$(host_address "$i")"; done))"
}

require_tools() {
    [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
    command -v ip >/dev/null || die "needs 'ip' (iproute2)"
    command -v unshare >/dev/null || die "needs 'unshare' (util-linux)"
}

namespace_exists() { ip netns list | awk '{print $1}' | grep -qx -- "$1"; }

delete_namespace() {
    local ns=$1 pids
    namespace_exists "$ns" || return 0
    # Processes left inside (an orted or rank of a failed run) would keep the namespace alive.
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
}

down() {
    local i
    for ((i = 0; i < count; i++)); do delete_namespace "$(host_ns "$i")"; done
    delete_namespace "$bridge_ns"
    rm -rf "$state"
}

up() {
    require_tools
    down
    trap 'down; die "setting up failed"' ERR
    mkdir -p "$state"

    ip netns add "$bridge_ns"
    ip -n "$bridge_ns" link set lo up
    ip -n "$bridge_ns" link add br0 type bridge
    ip -n "$bridge_ns" link set br0 up

    local i ns
    : >"$state/hostfile"
    for ((i = 0; i < count; i++)); do
        ns=$(host_ns "$i")
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip -n "$bridge_ns" link add "port$i" type veth peer name eth0 netns "$ns"
        ip -n "$bridge_ns" link set "port$i" master br0
        ip -n "$bridge_ns" link set "port$i" up
        ip -n "$ns" addr add "$(host_address "$i")/24" dev eth0
        ip -n "$ns" link set eth0 up
        printf '%s slots=%s\n' "$(host_address "$i")" "$slots" >>"$state/hostfile"
    done

    # mpirun calls the agent as `AGENT HOST CMD...`; this one carries the settings of this set.
    cat >"$state/agent" <<EOF
#!/bin/sh
exec env SIMCLR_NETNS_PREFIX='$prefix' SIMCLR_NETNS_SUBNET='$subnet' SIMCLR_NETNS_HOSTS='$count' '$self' agent "\$@"
EOF
    chmod +x "$state/agent"

    # A veth pair reports UP only once both ends are up; wait for every cable before handing over.
    for ((i = 0; i < count; i++)); do
        local tries=0
        until [ "$(ip netns exec "$(host_ns "$i")" cat /sys/class/net/eth0/operstate)" = up ]; do
            tries=$((tries + 1))
            [ "$tries" -lt 50 ] || die "host $i's link does not come up"
            sleep 0.1
        done
    done
    trap - ERR

    printf 'hostfile=%s\nagent=%s\nsubnet=%s.0/24\nhosts=' "$state/hostfile" "$state/agent" "$subnet"
    for ((i = 0; i < count; i++)); do printf '%s ' "$(host_address "$i")"; done
    printf '\n'
}

# Runs CMD (separate words) on host N under its own host name.
run() {
    local i
    i=$(host_index "$1")
    shift
    [ $# -gt 0 ] || die "run: no command"
    exec ip netns exec "$(host_ns "$i")" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$(host_name "$i")" "$@"
}

# Called by mpirun as `AGENT [OPTIONS] HOST CMD...`, like ssh: CMD is one shell command line split
# into words, so it is joined and evaluated by a shell on the host (as sshd would).
agent() {
    while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done
    [ $# -ge 2 ] || die "agent: expected HOST CMD..."
    local i
    i=$(host_index "$1")
    shift
    exec ip netns exec "$(host_ns "$i")" unshare --uts sh -c 'hostname "$0" && eval "$*"' "$(host_name "$i")" "$@"
}

run_mpirun() {
    [ -f "$state/hostfile" ] || die "no hosts: run '$0 up' first"
    local root_flags=()
    [ "$(id -u)" -ne 0 ] || root_flags=(--allow-run-as-root)
    run 0 mpirun "${root_flags[@]}" --hostfile "$state/hostfile" --mca plm_rsh_agent "$state/agent" \
        --mca btl tcp,self --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24" \
        --mca mpi_yield_when_idle 1 "$@"
}

# Takes host N's end of the cable down at the bridge (packets are dropped silently, as when a
# switch port or a machine is lost) or back up.
set_link() {
    local i
    i=$(host_index "$1")
    ip -n "$bridge_ns" link set "port$i" "$2"
}

# Host N's outgoing traffic through a token bucket of RATE (its incoming traffic is the other
# hosts' outgoing, so limiting every host limits both directions).
limit() {
    local ns
    ns=$(host_ns "$(host_index "$1")")
    if [ "$2" = none ]; then
        ip netns exec "$ns" tc qdisc del dev eth0 root 2>/dev/null || true
    else
        ip netns exec "$ns" tc qdisc replace dev eth0 root tbf rate "$2" burst 256kb latency 100ms
    fi
}

# Host N's packets from or to TCP ports FIRST..LAST go through a class that sends one byte a second:
# a connection there never completes, which is what a dropping firewall does to Open MPI. (The
# kernels these tests run on may lack tc's drop action; a starved class needs none.)
block() {
    local ns first last port
    ns=$(host_ns "$(host_index "$1")")
    [[ "$2" =~ ^([0-9]+)-([0-9]+)$ ]] || die "block N FIRST-LAST (ports), not '$2'"
    first=${BASH_REMATCH[1]} last=${BASH_REMATCH[2]}
    [ "$first" -le "$last" ] && [ $((last - first)) -lt 1024 ] || die "block: at most 1024 ports, FIRST <= LAST"
    ip netns exec "$ns" tc qdisc replace dev eth0 root handle 1: htb default 1
    ip netns exec "$ns" tc class add dev eth0 parent 1: classid 1:1 htb rate 10gbit quantum 1514
    ip netns exec "$ns" tc class add dev eth0 parent 1: classid 1:2 htb rate 8bit ceil 8bit burst 1b cburst 1b quantum 1514
    for ((port = first; port <= last; port++)); do
        for end in sport dport; do
            ip netns exec "$ns" tc filter add dev eth0 parent 1: protocol ip u32 \
                match ip protocol 6 0xff match ip "$end" "$port" 0xffff flowid 1:2
        done
    done
}

status() {
    local i
    for ((i = 0; i < count; i++)); do
        if namespace_exists "$(host_ns "$i")"; then
            printf '%s  %s  %s\n' "$(host_ns "$i")" "$(host_name "$i")" "$(ip -n "$(host_ns "$i")" -br addr show eth0 | awk '{print $2, $3}')"
        else
            printf '%s  absent\n' "$(host_ns "$i")"
        fi
    done
}

case "${1:-}" in
up) up ;;
down) down ;;
run) shift; [ $# -ge 1 ] || die "run N CMD..."; run "$@" ;;
agent) shift; agent "$@" ;;
mpirun) shift; run_mpirun "$@" ;;
cut) [ $# -eq 2 ] || die "cut N"; set_link "$2" down ;;
heal) [ $# -eq 2 ] || die "heal N"; set_link "$2" up ;;
limit) [ $# -eq 3 ] || die "limit N RATE"; limit "$2" "$3" ;;
block) [ $# -eq 3 ] || die "block N FIRST-LAST"; block "$2" "$3" ;;
unblock) [ $# -eq 2 ] || die "unblock N"; limit "$2" none ;;
status) status ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
