#!/bin/bash
# Takes down what up.sh made: the nodes' swarm, their dockerds (and containerd, shims and any
# container process left in their cgroups), the registry, mounts, netns, links and the FORWARD
# rule. Idempotent: safe to run any time. Exits 1 when something is left.
#   BASE=/tmp/platform-swarm-nodes down.sh     (KEEP_DATA=1 keeps nodeN/ and registry/)
set -u
BASE=${BASE:-/tmp/platform-swarm-nodes}
# node count: from env, else the highest N among nodeN/ dirs and pmnN netns (default 2)
n=$(ls -d $BASE/node[0-9]* /run/netns/pmn[0-9]* 2>/dev/null | grep -o "[0-9]*$" | sort -n | tail -1)
NODES=${NODES:-${n:-2}}
BR=pmn0
SUBNET_GW=10.77.0.1
PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
dk() { local i=$1; shift; timeout 30 docker -H unix://$BASE/node$i/docker.sock "$@"; }
alive() { [ -S $BASE/node$1/docker.sock ] && dk $1 version >/dev/null 2>&1; }

# 1. services / networks / swarm (best effort; only if the daemon answers)
if alive 1; then
  for s in $(dk 1 service ls -q 2>/dev/null); do dk 1 service rm "$s" >/dev/null; done
fi
for i in $(seq $NODES -1 1); do          # workers first, node1 (leader) last
  alive $i && dk $i swarm leave --force >/dev/null 2>&1
done

# 2. stop dockerds (their containerd is a child and exits with them); TERM all, then wait
pids=""
for i in $(seq 1 $NODES); do
  pf=$BASE/node$i/docker.pid
  [ -f $pf ] || continue
  pid=$(cat $pf)
  if [ -n "$pid" ] && grep -q "$BASE/node$i" /proc/$pid/cmdline 2>/dev/null; then
    kill -TERM "$pid" && pids="$pids $pid"
  fi
done
for pid in $pids; do
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
done
# leftovers (containerd / shims started for our nodes), matched by our paths, killed by pid
for pid in $(pgrep -f "$BASE/node[0-9]+/" ); do
  [ "$pid" = "$$" ] && continue
  kill -KILL "$pid" 2>/dev/null
done

# 3. registry
pf=$BASE/registry/registry.pid
if [ -f $pf ] && kill -0 "$(cat $pf)" 2>/dev/null && grep -q docker-registry /proc/$(cat $pf)/cmdline; then
  kill -TERM "$(cat $pf)"; sleep 0.5
fi
rm -f $pf

# 5. cgroups of --cgroup-parent /pmnN: kill any container process still in them (e.g. after a
#    dockerd/shim crash the container's PID 1 survives, reparented to init), then rmdir.
for i in $(seq 1 $NODES); do
  for _ in 1 2 3; do
    procs=$(cat $(find /sys/fs/cgroup/pids/pmn$i -name cgroup.procs 2>/dev/null) /dev/null 2>/dev/null)
    [ -z "$procs" ] && break
    kill -KILL $procs 2>/dev/null; sleep 0.3
  done
done
for i in $(seq 1 $NODES); do
  for d in /sys/fs/cgroup/*/pmn$i; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
done

# 4. unmount everything under BASE (data-root self bind mount, overlay2 mounts, netns files, shm)
sleep 0.3
for m in $(awk -v b="$BASE/" 'index($5, b)==1 {print $5}' /proc/self/mountinfo | sort -r); do
  umount "$m" 2>/dev/null || umount -l "$m"
done

# 6. network: netns, veths, bridge, host FORWARD rule
for i in $(seq 1 $NODES); do
  ip netns del pmn$i 2>/dev/null
  ip link del pmn${i}h 2>/dev/null
done
ip link del $BR 2>/dev/null
while iptables -C FORWARD -i $BR -o $BR -j ACCEPT 2>/dev/null; do
  iptables -D FORWARD -i $BR -o $BR -j ACCEPT
done

# 7. files
if [ "${KEEP_DATA:-0}" != 1 ]; then
  for i in $(seq 1 $NODES); do rm -rf $BASE/node$i; done
  rm -rf $BASE/registry
fi

# 8. verify
bad=0
pgrep -af "$BASE/(node[0-9]+|registry)/" && { echo "LEFTOVER processes above"; bad=1; }
ip netns list | grep -E '^pmn[0-9]+' && { echo "LEFTOVER netns"; bad=1; }
ip -br link | grep -E '^pmn' && { echo "LEFTOVER links"; bad=1; }
grep " $BASE/" /proc/self/mountinfo && { echo "LEFTOVER mounts"; bad=1; }
ls -d /sys/fs/cgroup/*/pmn[0-9]* 2>/dev/null && { echo "LEFTOVER cgroups"; bad=1; }
echo "swarm-nodes: down, $([ $bad = 0 ] && echo clean || echo NOT clean)"
exit $bad
