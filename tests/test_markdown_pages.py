"""The docs pages' checker (tests/markdown_pages.py): what it leaves out before comparing."""

from tests.markdown_pages import drop_log

PRINTED = """\
1000 done
2026-12-03 13:47:15,323 - distributed.worker - ERROR - Failed to communicate with scheduler during heartbeat.
Traceback (most recent call last):
  File "tcp.py", line 226, in read
    frames = await stream.read_bytes(8)
tornado.iostream.StreamClosedError: Stream is closed

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "worker.py", line 1165, in heartbeat
distributed.comm.core.CommClosedError: in <TCP (closed)>: Stream is closed
shape: (2, 3)
2026-12-03 13:47:16,001 - wfkit.batch - WARNING - kept
"""


def test_drop_log_removes_the_named_loggers_records_and_tracebacks():
    kept = drop_log(PRINTED, "distributed")
    assert (
        kept == "1000 done\nshape: (2, 3)\n2026-12-03 13:47:16,001 - wfkit.batch - WARNING - kept\n"
    )


def test_drop_log_keeps_other_loggers_and_names_that_only_start_alike():
    assert drop_log(PRINTED, "wfkit.batch").count("distributed.worker") == 1
    assert "distributed.worker" in drop_log(PRINTED, "distrib")
