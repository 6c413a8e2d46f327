#!/usr/bin/env python3
"""Reads TensorBoard event files with the `tensorboard` package and prints their scalars: an outside check
that the files Sources/Training/Metrics/TensorBoardWriter.swift writes are what TensorBoard reads.

    pip install tensorboard
    python3 check_tensorboard.py RUN_DIR_OR_EVENT_FILE      # raw events, then EventAccumulator's scalars
    python3 check_tensorboard.py --golden                    # the framed records TensorBoardTests.testGoldenRecords expects

Make a file to check with the Swift tests: GEMMATRAIN_TB_OUT=/tmp/tb swift test --filter TensorBoardTests.testRoundTrip
(the round-trip test then writes its event file into /tmp/tb and keeps it).
"""
import os
import struct
import sys

import numpy as np


def raw_events(path):
    # EventFileLoader reads TFRecord framing (tensorboard's pure-Python reader checks both CRCs).
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2

    for data in RawEventFileLoader(path).Load():
        yield event_pb2.Event.FromString(data)


def main():
    if sys.argv[1:] == ["--golden"]:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter
        import io

        event = event_pb2.Event(wall_time=1700000000.5, step=7, summary=summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag="loss", simple_value=2.5),
                   summary_pb2.Summary.Value(tag="lr", simple_value=3e-4)]))
        restart = event_pb2.Event(wall_time=1700000000.5, step=11,
                                  session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START))
        for e in (event, restart):
            buf = io.BytesIO()
            RecordWriter(buf).write(e.SerializeToString())
            print(buf.getvalue().hex())
        return

    target = sys.argv[1]
    files = [target] if os.path.isfile(target) else sorted(
        os.path.join(target, f) for f in os.listdir(target) if "tfevents" in f)
    for path in files:
        print(f"== {os.path.basename(path)}")
        for i, e in enumerate(raw_events(path)):
            what = e.WhichOneof("what")
            if what == "file_version":
                print(f"record {i}: wall_time {e.wall_time} file_version {e.file_version!r}")
            elif what == "session_log":
                print(f"record {i}: step {e.step} session_log {e.session_log.status}")
            else:
                values = " ".join(f"{v.tag}={str(np.float32(v.simple_value))}" for v in e.summary.value)
                print(f"record {i}: step {e.step} {values}")

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(target, size_guidance={"scalars": 0})  # a file, or every event file of a directory
    acc.Reload()
    print("== EventAccumulator scalars")
    for tag in acc.Tags()["scalars"]:
        points = ", ".join(f"{s.step}:{str(np.float32(s.value))}" for s in acc.Scalars(tag))
        print(f"{tag}: {points}")


if __name__ == "__main__":
    main()
