"""Decode a trace with Perfetto's official schema and print what it holds as JSON.

Used by the Rust tests (tests/schema.rs) to check rustprof-trace's bytes against
Perfetto's own protobuf definitions (PyPI package `perfetto`). Interned names are
resolved here, per sequence, following the sequence_flags rules, so the test also
checks the interning protocol. Exit status 2 and a message on stderr when the
trace breaks a rule a viewer relies on.
"""
import json
import sys

from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(2)

data = open(sys.argv[1], "rb").read()
trace = pb.Trace()
trace.ParseFromString(data)

TYPES = {1: "begin", 2: "end", 3: "instant", 4: "counter"}
seqs = {}
# Incremental (sequence-scoped) clocks per sequence: id -> [value, offset to
# the snapshot's first non-incremental clock]. Not incremental state: they
# survive SEQ_INCREMENTAL_STATE_CLEARED.
inc_clocks = {}
out = {"tracks": [], "events": [], "clock_snapshot": [], "clock_ids": []}
for pkt in trace.packet:
    seq = pkt.trusted_packet_sequence_id
    if seq == 0:
        fail("packet without trusted_packet_sequence_id")
    st = seqs.setdefault(seq, None)
    if pkt.sequence_flags & 1:  # SEQ_INCREMENTAL_STATE_CLEARED
        st = seqs[seq] = {"names": {}, "cats": {}, "ann": {}, "clock": None, "track": None}
    if pkt.HasField("trace_packet_defaults"):
        if st is None:
            fail("packet defaults before the sequence's incremental state was cleared")
        st["clock"] = pkt.trace_packet_defaults.timestamp_clock_id
        if pkt.trace_packet_defaults.HasField("track_event_defaults"):
            st["track"] = pkt.trace_packet_defaults.track_event_defaults.track_uuid
    if pkt.HasField("interned_data"):
        if st is None:
            fail("interned data before the sequence's incremental state was cleared")
        for e in pkt.interned_data.event_names:
            st["names"][e.iid] = e.name
        for e in pkt.interned_data.event_categories:
            st["cats"][e.iid] = e.name
        for e in pkt.interned_data.debug_annotation_names:
            st["ann"][e.iid] = e.name
    if pkt.HasField("clock_snapshot"):
        clocks = list(pkt.clock_snapshot.clocks)
        incs = [c for c in clocks if c.is_incremental]
        if incs:
            base = [c for c in clocks if not c.is_incremental]
            if not base:
                fail("incremental clock snapshot without a clock to relate it to")
            for c in incs:
                if not 64 <= c.clock_id < 128:
                    fail("incremental clock %d is not sequence-scoped" % c.clock_id)
                if c.unit_multiplier_ns not in (0, 1):
                    fail("unit_multiplier_ns is not read here")
                inc_clocks.setdefault(seq, {})[c.clock_id] = [c.timestamp, base[0].timestamp - c.timestamp]
        else:
            for c in clocks:
                out["clock_snapshot"].append([c.clock_id, c.timestamp])
    if pkt.HasField("track_descriptor"):
        d = pkt.track_descriptor
        t = {"uuid": d.uuid, "parent": d.parent_uuid if d.HasField("parent_uuid") else None}
        if d.HasField("process"):
            t.update(kind="process", pid=d.process.pid, name=d.process.process_name)
        elif d.HasField("thread"):
            t.update(kind="thread", pid=d.thread.pid, tid=d.thread.tid, name=d.thread.thread_name)
        elif d.HasField("counter"):
            t.update(kind="counter", unit=d.counter.unit, name=d.name)
        else:
            t.update(kind="async", name=d.name)
        out["tracks"].append(t)
    if pkt.HasField("track_event"):
        if st is None or not (pkt.sequence_flags & 2):
            fail("track event without SEQ_NEEDS_INCREMENTAL_STATE after a cleared state")
        te = pkt.track_event
        clock = pkt.timestamp_clock_id if pkt.HasField("timestamp_clock_id") else st["clock"]
        ts = pkt.timestamp
        inc = inc_clocks.get(seq, {}).get(clock)
        if inc is not None:
            inc[0] += ts
            ts = inc[0] + inc[1]
            clock = "incremental"
        elif clock is not None and 64 <= clock < 128:
            fail("timestamp on sequence-scoped clock %d with no snapshot on the sequence" % clock)
        out["clock_ids"].append(clock if clock is not None else 6)
        if te.HasField("track_uuid"):
            track = te.track_uuid
        elif st["track"] is not None:
            track = st["track"]
        else:
            fail("track event without a track")
        ev = {
            "ts": ts,
            "type": TYPES.get(te.type, "?"),
            "track": track,
            "name": st["names"][te.name_iid] if te.HasField("name_iid") else te.name,
            "category": ",".join([st["cats"][i] for i in te.category_iids] + list(te.categories)),
            "args": [],
            "flows": list(te.flow_ids),
            "terminating_flows": list(te.terminating_flow_ids),
        }
        if te.type == 4:
            ev["value"] = te.counter_value
        for a in te.debug_annotations:
            name = st["ann"][a.name_iid] if a.HasField("name_iid") else a.name
            kind = a.WhichOneof("value")
            ev["args"].append([name, kind, getattr(a, kind) if kind else None])
        out["events"].append(ev)

# Rules of the timeline: events on described tracks, slices balanced and in
# time order per track.
uuids = {t["uuid"] for t in out["tracks"]}
depth, last = {}, {}
for ev in out["events"]:
    if ev["track"] not in uuids:
        fail("event on undescribed track %d" % ev["track"])
    if ev["ts"] < last.get(ev["track"], 0):
        fail("timestamps go back on track %d" % ev["track"])
    last[ev["track"]] = ev["ts"]
    if ev["type"] == "begin":
        depth[ev["track"]] = depth.get(ev["track"], 0) + 1
    elif ev["type"] == "end":
        depth[ev["track"]] = depth.get(ev["track"], 0) - 1
        if depth[ev["track"]] < 0:
            fail("slice end without begin on track %d" % ev["track"])
out["open_slices"] = {str(k): v for k, v in depth.items() if v}
print(json.dumps(out))
