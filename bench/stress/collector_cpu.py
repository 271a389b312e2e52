#!/usr/bin/env python3
"""CPU time of rustprof's CPU-profile collector threads (`rustprof-cpu`) while the
stress workload runs: the cost of refreshing the unwind tables under a
dlopen/dlclose storm (about 300 a second).

usage: bench/stress/collector_cpu.py BINARY [SECONDS]
       (BINARY: a release build of rustprof-stress, e.g. target/release/rustprof-stress)

Runs `BINARY --child SECONDS` (the workload without the supervisor, with
MALLOC_ARENA_MAX=2 as the supervisor sets it), reads every thread's
utime+stime from /proc every 0.2 s, and prints the collectors' total against
the process's.
"""
import os
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__.strip().splitlines()[3])
    exe = sys.argv[1]
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    env = dict(os.environ, MALLOC_ARENA_MAX="2")
    p = subprocess.Popen([exe, "--child", str(secs)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    hz = os.sysconf("SC_CLK_TCK")
    threads = {}
    proc_cpu = 0
    t0 = time.time()
    while p.poll() is None:
        try:
            for tid in os.listdir(f"/proc/{p.pid}/task"):
                try:
                    st = open(f"/proc/{p.pid}/task/{tid}/stat").read()
                except OSError:
                    continue
                comm = st[st.index("(") + 1 : st.rindex(")")]
                f = st[st.rindex(")") + 2 :].split()
                threads[(tid, comm)] = max(threads.get((tid, comm), 0), int(f[11]) + int(f[12]))
            st = open(f"/proc/{p.pid}/stat").read()
            f = st[st.rindex(")") + 2 :].split()
            proc_cpu = int(f[11]) + int(f[12])
        except OSError:
            pass
        time.sleep(0.2)
    last = (p.stdout.read().decode().strip().splitlines() or [""])[-1]
    collector = sum(v for (_, comm), v in threads.items() if comm == "rustprof-cpu") / hz
    dl = " ".join(x for x in last.split() if x.startswith(("p.dl=", "profiles=")))
    print(f"collector threads {collector:.2f} s CPU, process {proc_cpu / hz:.1f} s, "
          f"wall {time.time() - t0:.0f} s; {dl}")


if __name__ == "__main__":
    main()
