"""Ignores SIGINT and computes until killed: concdiag must end it with SIGTERM."""

import signal
import time

signal.signal(signal.SIGINT, signal.SIG_IGN)


def spin() -> None:
    x = 0
    for i in range(200_000):
        x += i


while True:
    spin()
    time.sleep(0.01)
