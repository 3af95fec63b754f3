/**
 * Skiff's guest init: the /init of the microVM's initramfs, a busybox sh script
 * (nothing compiled, so any Debian host can build the initramfs from
 * busybox-static and its own kernel's modules).
 *
 * As PID 1 it loads the virtio-mmio, virtio-net and virtio-fs modules, mounts
 * the task's shared directory (virtio-fs tag `task`) at /task, sets up the task
 * cgroup (memory.max = the task's memory, pids.max, cpu.max for a fraction of a
 * vCPU), configures eth0 from the kernel command line (the address, MAC and
 * routes of the task's network namespace), writes /task/st/ready and then polls
 * /task/ctl (every 100 ms; usage to st/stats every ~5 s) for commands from the host, one file per command, processed in name
 * order and removed:
 *
 *   create DIR   start a runner for the container in /task/c/DIR (spec.sh there):
 *                its own mount and UTS namespace, cgroup task/DIR, /proc, /dev,
 *                /sys and the extra mounts inside DIR/rootfs; it acks with
 *                st/DIR.created (or st/DIR.failed) and waits for `start`.
 *   start DIR    the runner runs the process: chroot, working directory, uid/gid,
 *                a clean environment (busybox nsenter -r -w -S -G, exec'ing the
 *                image's own executable), stdout/stderr into c/DIR/log as
 *                k8s-file lines; st/DIR.started once it runs; on exit st/DIR.exit
 *                holds "<code> <oomKilled>". (st/DIR.log: the runner's own errors;
 *                `skiff.debug=1` on the kernel command line traces it.)
 *   signal DIR S sends S to the process (or, before start, ends the runner: 137).
 *   exec DIR X T runs x/X.sh in the container's namespaces and cgroup, output in
 *                x/X.out, "<code>" in x/X.exit; SIGKILL after T seconds.
 *
 * The same file re-executed as `/init runner DIR` is the runner, inside the new
 * namespaces (`unshare -m -u`).
 */
/** The script as written (a template tag: `\${` in the source is sh's `${`). */
const sh = (s: TemplateStringsArray): string => s.raw.join('').replace(/\\\$\{/g, '${');

export const GUEST_INIT = sh`#!/bin/busybox sh
export PATH=/bin TZ=UTC
ST=/task/st
now() { cat /proc/uptime; }
put() { echo "$2" > "$1.tmp" && mv -f "$1.tmp" "$1"; }

# ------------------------------------------------------------ container stdio -> k8s-file lines
logw() {
  awk -v s="$1" 'BEGIN {
      # adjtimex prints "    time.tv_sec:  N" and "    time.tv_usec: N"
      while (("adjtimex" | getline l) > 0) { split(l, f, " "); if (l ~ /tv_sec/) sec = f[2] + 0; else if (l ~ /tv_usec/) usec = f[2] + 0 }
      close("adjtimex")
      getline u < "/proc/uptime"; close("/proc/uptime"); split(u, a, " ")
      base = sec + usec / 1000000 - a[1]
    }
    { getline u < "/proc/uptime"; close("/proc/uptime"); split(u, a, " "); t = base + a[1]
      printf "%s.%06dZ %s F %s\n", strftime("%Y-%m-%dT%H:%M:%S", int(t)), int((t - int(t)) * 1000000), s, $0; fflush() }' >> "$2"
}

# ------------------------------------------------------------ the runner of one container
if [ "$1" = runner ]; then
  [ -n "$SKIFF_DEBUG" ] && set -x
  d=$2; C=/task/c/$d; R=/run/c/$d; root=$C/rootfs
  fail() { put $ST/$d.failed "$*"; exit 1; }
  mount --make-rprivate / 2>/dev/null
  . $C/spec.sh || fail "cannot read the container spec"
  cg=/sys/fs/cgroup/task/$d
  mkdir -p $cg || fail "cannot make the container cgroup"
  [ -n "$C_MEM" ] && echo $((C_MEM * 1048576)) > $cg/memory.max
  [ -n "$C_MEMLOW" ] && echo $((C_MEMLOW * 1048576)) > $cg/memory.low
  [ -n "$C_WEIGHT" ] && echo $C_WEIGHT > $cg/cpu.weight
  mount --bind $root $root || fail "cannot bind the rootfs"
  mkdir -p $root/proc $root/dev $root/sys
  mount -t proc -o nosuid,nodev,noexec proc $root/proc || fail "cannot mount /proc"
  mount -t tmpfs -o nosuid,mode=755,size=65536k dev $root/dev && cp -a /run/devtmpl/. $root/dev/ || fail "cannot make /dev"
  mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620 devpts $root/dev/pts
  mount -t tmpfs -o nosuid,nodev,noexec,size=65536k shm $root/dev/shm
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs $root/sys || fail "cannot mount /sys"
  c_mounts || fail "cannot make the container's mounts"
  [ "$C_RO" = 1 ] && { mount -o remount,bind,ro $root || fail "cannot make the rootfs read-only"; }
  hostname "$C_HOST"
  mkdir -p $R && mkfifo $R/go $R/out $R/err $R/mapped || fail "cannot make the stdio fifos"
  put $ST/$d.created "$$"
  read go < $R/go
  logw stdout $C/log < $R/out & lo=$!
  logw stderr $C/log < $R/err & le=$!
  if [ -n "$C_USERNS" ]; then
    # As runc's userns-remap: container ids 0..size-1 are guest ids hostId.., so image
    # layers stored shifted on the host belong to the container's root.
    # It starts as guest uid hostId, so once mapped it is the namespace's root and its
    # next exec (run.sh's) gets the capabilities it needs there (chroot, setuid).
    set -- $C_USERNS
    nsenter -F -S $1 -G $1 unshare -U -m /bin/sh -s $R/mapped < $C/run.sh > $R/out 2> $R/err &
    pid=$!
    echo $pid > $cg/cgroup.procs
    n=0; while [ $n -lt 500 ] && [ -e /proc/$pid ] && [ /proc/$pid/ns/user -ef /proc/$$/ns/user ]; do n=$((n + 1)); sleep 0.01; done
    echo "0 $1 $2" > /proc/$pid/uid_map && echo "0 $1 $2" > /proc/$pid/gid_map || echo "skiff-init: cannot map the user namespace" >&2
    echo go > $R/mapped
  else
    /bin/sh $C/run.sh > $R/out 2> $R/err &
    pid=$!
    echo $pid > $cg/cgroup.procs
  fi
  put $R/pid $pid
  # Started = the process has entered the container's root (nsenter's chroot, then at once its exec).
  n=0; while [ $n -lt 500 ] && [ -e /proc/$pid ] && ! [ /proc/$pid/root -ef $root ]; do n=$((n + 1)); sleep 0.01; done
  put $ST/$d.started "$pid"
  wait $pid; code=$?
  # As when a container's init ends: whatever it started ends too (and lets go of its stdio).
  echo 1 > $cg/cgroup.kill
  wait $lo $le
  oom=0; grep -q '^oom_kill [1-9]' $cg/memory.events 2>/dev/null && oom=1
  put $ST/$d.exit "$code $oom"
  exit 0
fi

# ------------------------------------------------------------ PID 1
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs dev /dev
mkdir -p /run /task /dev/pts; mount -t tmpfs -o mode=755 run /run
# What every container's /dev starts with (copied in one go by each runner).
T=/run/devtmpl; mkdir -p $T/pts $T/shm $T/mqueue
mknod -m 666 $T/null c 1 3; mknod -m 666 $T/zero c 1 5; mknod -m 666 $T/full c 1 7
mknod -m 666 $T/random c 1 8; mknod -m 666 $T/urandom c 1 9; mknod -m 666 $T/tty c 5 0
ln -s /proc/self/fd $T/fd; ln -s /proc/self/fd/0 $T/stdin; ln -s /proc/self/fd/1 $T/stdout; ln -s /proc/self/fd/2 $T/stderr; ln -s pts/ptmx $T/ptmx
for m in virtio_ring virtio virtio_mmio failover net_failover virtio_net fuse virtiofs; do
  [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null
done
MEM=; PIDS=; CPU=; VCPUS=1; IP=; MAC=; ROUTES=; PROBE=
for a in $(cat /proc/cmdline); do
  case $a in
    skiff.probe=*) PROBE=1 ;;
    skiff.debug=*) export SKIFF_DEBUG=1 ;;
    skiff.mem=*) MEM=\${a#*=} ;;
    skiff.pids=*) PIDS=\${a#*=} ;;
    skiff.cpu=*) CPU=\${a#*=} ;;
    skiff.vcpus=*) VCPUS=\${a#*=} ;;
    skiff.ip=*) IP=\${a#*=} ;;
    skiff.mac=*) MAC=\${a#*=} ;;
    skiff.route=*) ROUTES="$ROUTES \${a#*=}" ;;
  esac
done
if [ -n "$PROBE" ]; then echo SKIFF-PROBE-OK; poweroff -f; fi
die() { echo "skiff-init: $*"; poweroff -f; }
mount -t virtiofs task /task || die "cannot mount the task's shared directory"
mkdir -p $ST
mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup || die "no cgroup2"
# One controller per write: a write naming one the kernel lacks fails whole.
for c in memory pids cpu; do echo +$c > /sys/fs/cgroup/cgroup.subtree_control; done
mkdir -p /sys/fs/cgroup/task
[ -n "$MEM" ] && echo $((MEM * 1048576)) > /sys/fs/cgroup/task/memory.max
echo 0 > /sys/fs/cgroup/task/memory.swap.max 2>/dev/null
[ -n "$PIDS" ] && echo $PIDS > /sys/fs/cgroup/task/pids.max
[ -n "$CPU" ] && [ $CPU -lt $((VCPUS * 1024)) ] && echo "$((CPU * 100000 / 1024)) 100000" > /sys/fs/cgroup/task/cpu.max
for c in memory pids cpu; do echo +$c > /sys/fs/cgroup/task/cgroup.subtree_control; done
echo "cgroup controllers for containers: $(cat /sys/fs/cgroup/task/cgroup.subtree_control)"
ip link set lo up
# The VM is the task's own: any container may bind low ports (its root may be a user namespace's).
echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start
if [ -n "$IP" ] && [ -e /sys/class/net/eth0 ]; then
  [ -n "$MAC" ] && ip link set eth0 address $MAC
  echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6  # task networks are IPv4 only, as with runc
  ip addr add $IP dev eth0 && ip link set eth0 up || die "cannot configure eth0"
  for r in $ROUTES; do ip route add \${r%%,*} via \${r#*,} dev eth0; done
fi
put $ST/ready "$(now)"

stats() {
  t=/sys/fs/cgroup/task
  { echo "task $(cat $t/memory.current) $(grep -E '^(usage|user|system)_usec' $t/cpu.stat | awk '{printf "%s ", $2}') $(cat $t/pids.current)"
    grep -E '^(anon|file|inactive_file) ' $t/memory.stat | awk '{printf "task.%s %s\n", $1, $2}'
    for c in $t/*/; do [ -f $c/memory.current ] || continue; n=\${c%/}; n=\${n##*/}
      echo "c.$n $(cat $c/memory.current) $(grep -E '^(usage|user|system)_usec' $c/cpu.stat | awk '{printf "%s ", $2}') $(cat $c/pids.current)"
      grep -E '^(anon|file|inactive_file) ' $c/memory.stat | awk -v n=$n '{printf "c.%s.%s %s\n", n, $1, $2}'
    done; } > $ST/stats.tmp 2>/dev/null && mv -f $ST/stats.tmp $ST/stats
}

# The poll's pause: a timed read of a fifo nobody writes (no process per tick; sleep would fork one).
mkfifo /run/tick && exec 3<> /run/tick
tick=0
while :; do
  for f in /task/ctl/*; do
    [ -f "$f" ] || continue
    read -r verb d arg t < "$f"; rm -f "$f"
    case $d in ''|*/*|.*) continue ;; esac
    case $verb in
      create) unshare -m -u /bin/sh /init runner $d > $ST/$d.log 2>&1 & ;;
      start) [ -p /run/c/$d/go ] && { echo go > /run/c/$d/go & } ;;
      signal)
        if [ -f /run/c/$d/pid ]; then kill -s "$arg" $(cat /run/c/$d/pid) 2>/dev/null
        elif [ -f $ST/$d.created ]; then kill -KILL $(cat $ST/$d.created) 2>/dev/null; put $ST/$d.exit "137 0"
        fi ;;
      exec)
        case $arg in ''|*/*|.*) continue ;; esac
        (
          x=/task/x/$arg; p=$(cat /run/c/$d/pid 2>/dev/null)
          if [ -z "$p" ] || [ -f $ST/$d.exit ] || ! kill -0 $p 2>/dev/null; then put $x.exit 126; exit 0; fi
          # Its cgroup, its mount and UTS namespaces, then (last: it owns neither) its user namespace as its root.
          J=; [ /proc/$p/ns/user -ef /proc/1/ns/user ] || J="nsenter -F -t $p -U -S 0 -G 0"
          /bin/sh -c 'echo $$ > "$0" && exec "$@"' /sys/fs/cgroup/task/$d/cgroup.procs nsenter -F -t $p -m -u $J /bin/sh -s < $x.sh > $x.out 2>&1 &
          e=$!
          ( sleep \${t:-30}; kill -KILL $e 2>/dev/null ) & k=$!
          wait $e; code=$?
          kill $k 2>/dev/null
          put $x.exit $code
        ) & ;;
    esac
  done
  tick=$((tick + 1))
  [ $((tick % 50)) = 0 ] && stats
  read -t 0.1 x <&3
done
`;
