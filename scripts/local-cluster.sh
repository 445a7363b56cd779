#!/usr/bin/env bash
# Three etcd members and three `ballot serve` hosts sharing one namespace, on this
# machine (loopback only). Needs etcd (Debian: apt-get install etcd-server) and a built
# ballot (cargo build --release). Ctrl-C stops everything.
#
#   scripts/local-cluster.sh [DIR]      # data under DIR (default: a fresh temp folder)
#
# Hosts listen on 127.0.0.1:7421, :7422 and :7423; etcd clients on :23791-23793.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-$(mktemp -d)}"
ballot="${BALLOT:-target/release/ballot}"
export BALLOT_TOKEN="${BALLOT_TOKEN:-$(head -c 24 /dev/urandom | base64)}"
mkdir -p "$dir"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

initial="e0=http://127.0.0.1:23801,e1=http://127.0.0.1:23802,e2=http://127.0.0.1:23803"
for i in 0 1 2; do
    etcd --name "e$i" --data-dir "$dir/etcd-$i" \
        --listen-client-urls "http://127.0.0.1:2379$((i + 1))" \
        --advertise-client-urls "http://127.0.0.1:2379$((i + 1))" \
        --listen-peer-urls "http://127.0.0.1:2380$((i + 1))" \
        --initial-advertise-peer-urls "http://127.0.0.1:2380$((i + 1))" \
        --initial-cluster "$initial" --initial-cluster-state new \
        >"$dir/etcd-$i.log" 2>&1 &
    pids+=($!)
done
endpoints="http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793"
sleep 2
for i in 1 2 3; do
    "$ballot" serve --listen "127.0.0.1:742$i" --data-dir "$dir/host-$i" \
        --etcd "$endpoints" --cluster local --host-id "host-$i" --host-ttl-ms 1000 \
        >"$dir/host-$i.out" 2>"$dir/host-$i.log" &
    pids+=($!)
done
echo "data and logs in $dir; BALLOT_TOKEN=$BALLOT_TOKEN"
echo "hosts: http://127.0.0.1:7421 http://127.0.0.1:7422 http://127.0.0.1:7423 (try: curl http://127.0.0.1:7421/v1/hosts)"
wait
