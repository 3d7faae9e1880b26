"""One object per thread and key (the portal's pooled HTTP sessions), none inherited by a fork."""

import os
import threading

from portal.perthread import PerThread


def test_a_thread_gets_its_own_object_once_per_key():
    made = []
    kept = PerThread(lambda key: made.append(key) or object())

    first = kept.get("a")
    assert kept.get("a") is first
    assert kept.get("b") is not first
    other = []
    thread = threading.Thread(target=lambda: other.append(kept.get("a")))
    thread.start()
    thread.join()

    assert other[0] is not first
    assert made == ["a", "b", "a"]


def test_a_forked_child_makes_its_own():
    kept = PerThread(lambda key: object())
    parents = kept.get()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child answers whether it got its parent's object, then leaves
        os.write(writer, b"same" if kept.get() is parents else b"new")
        os._exit(0)
    os.close(writer)
    answer = os.read(reader, 8)
    os.waitpid(child, 0)
    assert answer == b"new"
