#!/usr/bin/env python3
"""Writes the legacy profiles of formats no tool on this machine writes (Java's
agent, threadz dumps, C++ contentionz) and binary CPU profiles in the word sizes
and byte orders gperftools on x86-64 does not use, each per the format pprof's
parsers read (google/pprof profile/legacy_profile.go, legacy_java_profile.go)."""
import struct

MAPS = """--- Memory map: ---
00400000-00452000 r-xp 00000000 08:01 1311 /usr/local/bin/server
00651000-00652000 rw-p 00051000 08:01 1311 /usr/local/bin/server
7f3c2a000000-7f3c2a1c0000 r-xp 00000000 08:01 2290 /lib/x86_64-linux-gnu/libc-2.31.so
7ffd8e5f0000-7ffd8e5f2000 r-xp 00000000 00:00 0 [vdso]
"""

def write(name, text):
    with open(name, "w") as f:
        f.write(text)

write("java.heap", """--- heapz 1 ---
format = java
resolution = bytes
          8192     4 @ 0x00000001 0x00000002 0x00000003
          2048     1 @ 0x00000004 0x00000002 0x00000003
           640    10 @ 0x00000005
        600000     2 @ 0x00000006 0x00000003

0x00000001 com.example.cache.Entry.<init> (Entry.java:21)
0x00000002 com.example.cache.Cache.put (Cache.java:57)
0x00000003 com.example.Main.main (Main.java:9)
0x00000004 java.util.HashMap.resize (HashMap.java:-1)
0x00000005 GC
0x00000006 Java_java_util_zip_Inflater_init (/usr/lib/jvm/lib/libzip.so)
""")

write("java.contention", """--- contentionz 1 ---
format = java
resolution = microseconds
sampling period = 100
ms since reset = 6019
           120     3 @ 0x00000001 0x00000002
            15     1 @ 0x00000003 0x00000002
             7     2 @ 0x00000001 0x00000004

0x00000001 com.example.Pool.take (Pool.java:40)
0x00000002 com.example.Worker.run (Worker.java:18)
0x00000003 generated stub/JIT
0x00000004 java.lang.Thread.run (Thread.java:748)
""")

def words(fmt, ws):
    return b"".join(struct.pack(fmt, w) for w in ws)

# Java CPU: header 0, 3, 1 (Java), period 10000 us, 0; records; trailer 0, 1, 0;
# then the symbols of the addresses.
java_cpu = words("<Q", [0, 3, 1, 10000, 0,
                        5, 3, 1, 2, 3,
                        2, 2, 4, 3,
                        1, 1, 5,
                        0, 1, 0])
java_cpu += b"""0x0000000000000001 com.example.Hash.mix (Hash.java:77)
0x0000000000000002 com.example.Hash.sum (Hash.java:90)
0x0000000000000003 com.example.Main.main (Main.java:12)
0x0000000000000004 com.example.Io.read (Io.java:33)
0x0000000000000005 VM
"""
open("java.cpu", "wb").write(java_cpu)

# C++ CPU profiles in 32-bit big-endian and 64-bit big-endian words: the same
# samples, with the signal handler's frame (0x400100) under every leaf, and a
# leaf repeated as its own caller (0x400a11 after 0x400a12).
def cpp(fmt, lib, maps):
    recs = [0, 3, 0, 4000, 0,
            7, 4, 0x400a12, 0x400101, 0x400b21, 0x400c31,
            3, 4, 0x400a22, 0x400101, 0x400b21, 0x400c31,
            2, 4, 0x400a12, 0x400101, 0x400a13, 0x400c31,
            1, 3, lib + 0x1234, 0x400101, 0x400c31,
            0, 1, 0]
    return words(fmt, recs) + maps.split("\n", 1)[1].encode()
MAPS32 = MAPS.replace("7f3c2a000000-7f3c2a1c0000", "b7000000-b71c0000").replace("7ffd8e5f0000-7ffd8e5f2000 ", "")
open("cpu32be.prof", "wb").write(cpp(">I", 0xb7000000, MAPS32))
open("cpu64be.prof", "wb").write(cpp(">Q", 0x7f3c2a000000, MAPS))

write("cpp.contention", """--- contentionz 1 ---
cycles/second = 2000000000
sampling period = 10
ms since reset = 5000
discarded samples = 0
  3000000 12 @ 0x400a10 0x400b20 0x400c30
  900000 3 @ 0x400a20 0x400b20 0x400c30
  # a comment
  500 1 @ 0x7f3c2a001234 0x400c30
""" + MAPS)

write("cpp.threadz", """--- threadz 1 ---
threads: 4

--- Thread 7f0a1c000700 (name: worker/1234) stack: ---
  PC: 0x400a12 0x400b21 0x400c31
--- Thread 7f0a1c800700 (name: worker/1235) stack: ---
  PC: 0x400a12 0x400b21 0x400c31
--- Thread 7f0a1d000700 (name: worker/1236) stack: ---
  same as previous thread
--- Thread 7f0a1d800700 (name: main/1200) stack: ---
  PC: 0x400d44 0x400d43 0x400c31
""" + MAPS)

# A gperftools-style heap profile with glog prefixes and $attr lines in its map.
write("glog.heap", """heap profile:    3:   300000 [     5:   700000] @ heapprofile
     2:   200000 [     3:   500000] @ 0x400a12 0x400b21 0x400c31
     1:   100000 [     2:   200000] @ 0x7f3c2a001234 0x400c31
     0:        0 [     0:        0] @ 0x400d44
MAPPED_LIBRARIES:
I1203 10:00:00.000000 1234 heap.cc:99] bin=/usr/local/bin
I1203 10:00:00.000000 1234 heap.cc:99] 00400000-00452000 r-xp 00000000 08:01 1311 $bin/server
7f3c2a000000-7f3c2a1c0000 r-xp 00000000 08:01 2290 /lib/x86_64-linux-gnu/libc-2.31.so
""")

# 32-bit little-endian words, as a 32-bit x86 gperftools writes them.
open("cpu32le.prof", "wb").write(cpp("<I", 0xb7000000, MAPS32))

write("cpp.fragmentation", """heap profile:    4:   262144 [     4:   262144] @ fragmentationz
     3:   196608 [     3:   196608] @ 0x400a12 0x400b21 0x400c31
     1:    65536 [     1:    65536] @ 0x400d44 0x400c31
""" + MAPS)

# A thread dump without the threadz header, ending at "---- no stack trace for".
write("cpp.threads", """--- Thread 7f0a1c000700 (name: io/77) stack: ---
  PC: 0x400a12 0x400b21 0x400c31
  0x400d44
--- Thread 7f0a1c800700 (name: io/78) stack: ---
  PC: 0x400a22 0x400b21 0x400c31
---- no stack trace for thread 7f0a1d000700 ----
""" + MAPS)
