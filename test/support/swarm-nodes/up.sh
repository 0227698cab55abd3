#!/bin/bash
# A real N-node Docker Swarm on this one machine, for the docker tier's multi-node test: one
# dockerd per network namespace (pmn1..pmnN, 10.77.0.11..), joined by a host bridge (pmn0,
# 10.77.0.1), and a registry (Debian's docker-registry) on the bridge at 10.77.0.1:5000 that
# every node pulls from. Idempotent: run again, it changes nothing. Needs root.
#   BASE=/tmp/platform-swarm-nodes NODES=2 up.sh     (node N's engine: unix://$BASE/nodeN/docker.sock)
set -euo pipefail
BASE=${BASE:-/tmp/platform-swarm-nodes}
NODES=${NODES:-2}
BR=pmn0
GW=10.77.0.1
REG=$GW:5000
PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ip_of() { echo 10.77.0.$((10 + $1)); }
dk() { local i=$1; shift; docker -H unix://$BASE/node$i/docker.sock "$@"; }
phase() { echo "swarm-nodes: $*"; }
wait_for() { local n=$1; shift; for _ in $(seq 1 $n); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; "$@"; }
mkdir -p $BASE

# ---- 1. network: bridge + one netns per node -------------------------------------------
ip link show $BR >/dev/null 2>&1 || {
  ip link add $BR type bridge
  ip addr add $GW/24 dev $BR
}
ip link set $BR up
# The host runs a dockerd => br_netfilter loaded, bridge-nf-call-iptables=1 and FORWARD
# policy DROP, so bridged netns<->netns traffic is dropped unless we accept it explicitly.
iptables -C FORWARD -i $BR -o $BR -j ACCEPT 2>/dev/null || iptables -I FORWARD 1 -i $BR -o $BR -j ACCEPT
for i in $(seq 1 $NODES); do
  ns=pmn$i
  [ -e /run/netns/$ns ] || ip netns add $ns
  if ! ip -n $ns link show eth0 >/dev/null 2>&1; then
    ip link del pmn${i}h 2>/dev/null || true
    ip link add pmn${i}h type veth peer name pmn${i}c
    ip link set pmn${i}c netns $ns
    ip -n $ns link set pmn${i}c name eth0
    ip -n $ns addr add $(ip_of $i)/24 dev eth0
  fi
  ip link set pmn${i}h master $BR up
  ip -n $ns link set lo up
  ip -n $ns link set eth0 up
  ip -n $ns route replace default via $GW
done
for i in $(seq 2 $NODES); do
  ip netns exec pmn1 busybox ping -c1 -W2 $(ip_of $i) >/dev/null
done
phase "network up (bridge $BR, netns pmn1..pmn$NODES, ping ok)"

# ---- 2. one dockerd per netns ---------------------------------------------------------
# nsenter --net (NOT `ip netns exec`: that remounts /sys, hiding /sys/fs/cgroup ->
#   "failed to start daemon: Devices cgroup isn't mounted").
# unshare --uts + hostname: otherwise all nodes are called "vm" in `docker node ls`.
# daemon.json "deprecated-key-path" (a config-file key only, no CLI flag in 20.10):
#   otherwise all nodes share /etc/docker/key.json => identical engine ID.
# dockerd spawns its own containerd with socket $exec-root/containerd/containerd.sock
# (no system containerd at /run/containerd/containerd.sock, so no --containerd needed).
for i in $(seq 1 $NODES); do
  d=$BASE/node$i
  mkdir -p $d
  echo "{\"deprecated-key-path\": \"$d/key.json\"}" > $d/daemon.json
  if ! dk $i version >/dev/null 2>&1; then
    nsenter --net=/run/netns/pmn$i -- unshare --uts -- sh -c "hostname pmn$i; exec setsid dockerd \
      --config-file $d/daemon.json \
      --data-root $d/data --exec-root $d/exec --pidfile $d/docker.pid \
      --host unix://$d/docker.sock --cgroup-parent /pmn$i \
      --insecure-registry $REG" >>$d/dockerd.log 2>&1 </dev/null &
  fi
done
for i in $(seq 1 $NODES); do wait_for 150 dk $i version; done
phase "dockerds up"

# ---- 3. registry on the host bridge IP -------------------------------------------------
mkdir -p $BASE/registry/data
cat > $BASE/registry/config.yml <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $BASE/registry/data
  delete:
    enabled: true
http:
  addr: $REG
EOF
if ! busybox wget -qO- http://$REG/v2/ >/dev/null 2>&1; then
  setsid docker-registry serve $BASE/registry/config.yml >$BASE/registry/registry.log 2>&1 </dev/null &
  echo $! > $BASE/registry/registry.pid
  wait_for 50 busybox wget -qO- http://$REG/v2/
fi
phase "registry up at $REG"

# ---- 4. swarm -------------------------------------------------------------------------
state() { dk $1 info --format '{{.Swarm.LocalNodeState}}'; }
[ "$(state 1)" = active ] || dk 1 swarm init --advertise-addr $(ip_of 1) >/dev/null
TOKEN=$(dk 1 swarm join-token -q worker)
for i in $(seq 2 $NODES); do
  [ "$(state $i)" = active ] || dk $i swarm join --advertise-addr $(ip_of $i) --token $TOKEN $(ip_of 1):2377 >/dev/null
done
ready() { [ "$(dk 1 node ls --format '{{.Status}}' | grep -c Ready)" = "$NODES" ]; }
wait_for 100 ready
phase "swarm: $NODES nodes Ready"

