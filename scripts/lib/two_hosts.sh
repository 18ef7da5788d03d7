# Two hosts on one machine, for the multi-host scripts (multihost_test.sh, shaped_link_bench.sh).
# Two network namespaces, tessera-a-PID and tessera-b-PID (PID of the sourcing script, so two runs
# on one machine never collide), joined by a veth pair (veth-a, veth-b) on a private test subnet
# (10.233.7.0/24, which exists only inside them), each running its own sshd on its own address
# with a host key and a client key made for this run. No traffic leaves the two namespaces.
#
# Source it from a script in scripts/ after defining `skip KIND MESSAGE` (called, and expected to
# exit, when the machine cannot run it: no root, no sshd, namespaces not permitted). It moves to
# the repository root and defines
#   repo tessera na nb subnet addr_a addr_b work
#   two_hosts_up              namespaces, link and both sshds; returns non-zero with a message
#   mpi_across NP HOSTFILE    fills the array `mpi` with an mpirun command line launched from
#                             tessera-a, daemons started over ssh, every message over TCP
#   in_ns NS                  how many `tessera` processes run in namespace NS
# and an EXIT trap that removes everything it made (namespaces with their processes, the veth
# pair, the sshds, the temp directory), also on failure; it also kills $bg when set.
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo=$(pwd)
tessera=$(realpath "${TESSERA:-.build/release/tessera}")
na=tessera-a-$$ nb=tessera-b-$$
subnet=10.233.7.0/24 addr_a=10.233.7.1 addr_b=10.233.7.2

[ "$(id -u)" -eq 0 ] || skip environment "needs root for ip netns"
command -v ip > /dev/null || skip set-up "no ip command (scripts/setup.sh --tests installs iproute2)"
sshd=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$sshd" ] || skip set-up "no sshd (scripts/setup.sh --tests installs openssh-server)"
command -v ssh > /dev/null && command -v ssh-keygen > /dev/null || skip set-up "no ssh client (scripts/setup.sh --tests installs openssh-client)"
# A namespace left by an earlier run that was killed (its script's PID gone) is removed; one
# whose run is still alive is left alone, and ours carry our own PID.
for ns in $(ip netns list 2> /dev/null | awk '{print $1}' | grep -E '^tessera-[ab]-[0-9]+$'); do
  kill -0 "${ns##*-}" 2> /dev/null || { echo "  removing namespace $ns left by an ended run"; ip netns del "$ns"; }
done
ip netns add tessera-probe-$$ 2> /dev/null && ip netns del tessera-probe-$$ || skip environment "network namespaces are not permitted here (ip netns add failed)"

work=$(mktemp -d)
sshd_pids=()
chmod 755 "$work"
cleanup() {
  local ns pid
  for ns in "$na" "$nb"; do
    for pid in $(ip netns pids "$ns" 2> /dev/null); do kill -9 "$pid" 2> /dev/null; done
  done
  for pid in "${sshd_pids[@]}"; do kill -9 "$pid" 2> /dev/null; wait "$pid" 2> /dev/null; done
  [ -n "${bg:-}" ] && kill -9 "$bg" 2> /dev/null
  sleep 0.3
  for ns in "$na" "$nb"; do ip netns del "$ns" 2> /dev/null; done   # also removes the veth pair
  rm -rf "$work"
  [ -n "${made_run_sshd:-}" ] && rmdir /run/sshd 2> /dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ssh_cmd="ssh -i $work/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3"

two_hosts_up() {
  # Network: two namespaces, a veth pair between them, loopback up in each.
  ip netns add "$na" && ip netns add "$nb" \
    && ip link add veth-a netns "$na" type veth peer name veth-b netns "$nb" \
    && ip -n "$na" addr add "$addr_a/24" dev veth-a && ip -n "$nb" addr add "$addr_b/24" dev veth-b \
    && ip -n "$na" link set lo up && ip -n "$nb" link set lo up \
    && ip -n "$na" link set veth-a up && ip -n "$nb" link set veth-b up \
    || { echo "could not create the namespaces and the veth pair"; return 1; }
  # ssh: a host key and a client key made for this run; one sshd per namespace on its address.
  ssh-keygen -q -t ed25519 -N '' -f "$work/host_key" && ssh-keygen -q -t ed25519 -N '' -f "$work/client_key" \
    && cp "$work/client_key.pub" "$work/authorized_keys" || { echo "ssh-keygen failed"; return 1; }
  [ -d /run/sshd ] || { mkdir -p /run/sshd && made_run_sshd=1; }   # sshd's privilege-separation directory
  local side addr ns
  for side in a b; do
    addr=$addr_a ns=$na; [ "$side" = b ] && addr=$addr_b ns=$nb
    printf '%s\n' "ListenAddress $addr" "Port 22" "HostKey $work/host_key" "AuthorizedKeysFile $work/authorized_keys" \
      "PermitRootLogin prohibit-password" "PasswordAuthentication no" "KbdInteractiveAuthentication no" "UsePAM no" \
      "StrictModes no" "PidFile $work/sshd_$side.pid" "ClientAliveInterval 5" "ClientAliveCountMax 3" \
      "SetEnv OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" > "$work/sshd_$side.conf"
    ip netns exec "$ns" "$sshd" -D -f "$work/sshd_$side.conf" -E "$work/sshd_$side.log" &   # -D: stays our child
    sshd_pids+=($!)
  done
  for _ in $(seq 50); do ip netns exec "$na" $ssh_cmd "$addr_b" true 2> /dev/null && break; sleep 0.2; done
  ip netns exec "$na" $ssh_cmd "$addr_b" true || { echo "ssh from $na to $addr_b failed:"; cat "$work/sshd_b.log"; return 1; }
}

# One BLAS thread per rank: a rank alone on a host would otherwise run two, and OpenBLAS splits a
# multi-threaded sgemm so that the last bits differ (~1e-6 in the losses) from a local run.
# TCP also between two ranks of one host (over its own address): both hosts carry the machine's
# hostname, and shared memory (vader) between the ranks of each crashed intermittently in
# OpenMPI 4.1 (segments named by hostname, job and local rank; separate session and backing
# directories per host did not stop it), so TP traffic inside a host is TCP here, not vader.
mpi_across() {
  mpi=(mpirun --allow-run-as-root --hostfile "$2" -np "$1" --wdir "$repo"
       --mca btl tcp,self --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet"
       --mca plm_rsh_agent "$ssh_cmd"
       --mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3
       -x OPENBLAS_CORETYPE -x TESSERA_BLAS_CORETYPE -x TESSERA_BLAS_THREADS=1
       --bind-to none)   # each "host" would bind its first rank to core 0: both on one core
  # Both hosts share this machine's cores with the kernel's network work for the veth pair
  # (softirq, ksoftirqd). Ranks that spin while they wait starve it until the next timer tick:
  # measured 8 ms per 4 KB allReduce with 2 spinning ranks on 2 cores, 0.05-0.13 ms yielding.
  [ "$1" -ge "$(nproc)" ] && mpi+=(--mca mpi_yield_when_idle 1)
  return 0
}

# `tessera` processes in namespace $1 (the hostname is shared, so look at the namespaces).
in_ns() { local pid n=0; for pid in $(ip netns pids "$1"); do tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q "^$tessera " && n=$((n + 1)); done; echo $n; }
