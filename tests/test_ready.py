"""Waiting for a socket at any descriptor number (``select`` stops at 1024; a busy serve passes it)."""

from __future__ import annotations

import os
import resource
import socket

import pytest

from lipsync._ready import readable, writable


def test_a_socket_past_descriptor_1024_is_waited_for() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"this machine allows {hard} descriptors: none past 1024 to test with")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    held = []
    try:
        while True:  # take descriptors until the next one is past 1024
            fd = os.open(os.devnull, os.O_RDONLY)
            held.append(fd)
            if fd >= 1030:
                break
        left, right = socket.socketpair()
        try:
            assert left.fileno() > 1024
            assert not readable(left, 0) and writable(left, 0)
            right.sendall(b"x")
            assert readable(left, 1.0)
        finally:
            left.close()
            right.close()
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
