#!/bin/sh
# /init of the Linux guest `cargo xtask bench --linux` boots (Debian's arm64 kernel, busybox):
# the same block and TCP workloads as the test kernel's `bench` command, printed as
# `BENCH name=value unit` lines. The host drives the TCP tests; "linux-bench: ready ..." lines
# tell it when. Parameters come from the kernel command line (bench.NAME=VALUE).
export PATH=/bin
mount -t proc proc /proc
echo "BENCH linux.boot.init_uptime=$(cut -d' ' -f1 /proc/uptime) s"
echo "linux-bench: init"
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
arg() { sed -n "s/.*bench\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
SEQ_MIB=$(arg seq_mib); RANDOM_REQUESTS=$(arg random); NET_BYTES=$(arg net_bytes); TX_PORT=$(arg tx_port)
while read -r module; do insmod "/lib/modules/$module.ko"; done < /lib/modules/order
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

# The kernel's monotonic clock in ns (busybox has no date +%N).
ns() { awk '/^now at/ { print $3; exit }' /proc/timer_list; }
fail() { echo "linux-bench: failed: $*"; poweroff -f; }
# report NAME AMOUNT UNIT T0 T1: AMOUNT (MiB or requests) per second.
report() { awk -v n="$1" -v a="$2" -v u="$3" -v t0="$4" -v t1="$5" 'BEGIN { printf "BENCH linux.blk.%s=%.3f %s\n", n, a / ((t1 - t0) / 1e9), u }'; }
shape() { echo "BENCH linux.blk.$1.request=$2 KiB"; echo "BENCH linux.blk.$1.depth=$3 requests"; }

# sequential NAME read|write KIB: SEQ_MIB MiB in O_DIRECT requests of KIB, one at a time.
sequential() {
    count=$((SEQ_MIB * 1024 / $3))
    t0=$(ns)
    if [ "$2" = read ]; then
        dd if=/dev/vda of=/dev/null bs=$3k count=$count iflag=direct 2>/dev/null || fail "$1"
    else
        dd if=/dev/zero of=/dev/vda bs=$3k count=$count oflag=direct 2>/dev/null || fail "$1"
    fi
    report "$1" "$SEQ_MIB" MiB/s "$t0" "$(ns)"
    shape "$1" "$3" 1
}

# small NAME read|write DEPTH: RANDOM_REQUESTS O_DIRECT 4 KiB requests from DEPTH dd processes
# at once, each on its own stretch of the disk (busybox dd cannot seek at random).
small() {
    each=$((RANDOM_REQUESTS / $3))
    t0=$(ns)
    p=0
    while [ $p -lt "$3" ]; do
        if [ "$2" = read ]; then
            dd if=/dev/vda of=/dev/null bs=4k count=$each skip=$((p * each)) iflag=direct 2>/dev/null &
        else
            dd if=/dev/zero of=/dev/vda bs=4k count=$each seek=$((p * each)) oflag=direct 2>/dev/null &
        fi
        p=$((p + 1))
    done
    wait
    report "$1" $((each * $3)) IOPS "$t0" "$(ns)"
    shape "$1" 4 "$3"
}

if [ -b /dev/vda ]; then
    for op in read write; do
        sequential "seq_${op}_64k" $op 64
        sequential "seq_${op}_1m" $op 1024
        small "rand_${op}_4k_qd1" $op 1
        small "rand_${op}_4k_qd32" $op 32
    done
else
    fail "no /dev/vda"
fi

ifconfig lo 127.0.0.1 up
i=0; while ! ifconfig eth0 >/dev/null 2>&1 && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
# QEMU's user network, configured statically as the test kernel does.
ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up || fail "no eth0"
route add default gw 10.0.2.2
# A stdin that never ends, so nc stops when the host closes rather than when stdin does.
mkfifo /tmp/idle
exec 3<>/tmp/idle
nc -l -p 5001 <&3 >/dev/null &
sleep 0.3
echo "linux-bench: ready sink"
wait
echo "linux-bench: ready source"
dd if=/dev/zero bs=64k count=$((NET_BYTES / 65536)) 2>/dev/null | nc 10.0.2.2 "$TX_PORT" >/dev/null
nc -l -p 5003 -e /bin/cat &
sleep 0.3
echo "linux-bench: ready echo"
wait
echo "linux-bench: done"
poweroff -f
