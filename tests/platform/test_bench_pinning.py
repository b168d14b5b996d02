"""bench.pinning's choice of CPUs for PostgreSQL's processes (`bench.read_tail` measures with it
whether PostgreSQL's own processes, left to the kernel, are what the API's reads pay for)."""

from __future__ import annotations

from bench.backends import PgProcess
from bench.pinning import sides

DB = "tanktop_bench"
WORKER_PORT, API_PORT = 40001, 40002
PROCESSES = [
    PgProcess(10, "walwriter", None, None),
    PgProcess(11, "checkpointer", None, None),
    PgProcess(12, "background writer", None, None),
    PgProcess(13, "autovacuum worker", DB, None),
    PgProcess(20, "client backend", DB, WORKER_PORT),
    PgProcess(21, "client backend", DB, API_PORT),
    PgProcess(22, "parallel worker", DB, None, leader_pid=20),
    PgProcess(23, "parallel worker", DB, None, leader_pid=21),
    PgProcess(30, "client backend", "someone_else", WORKER_PORT),
    PgProcess(31, "parallel worker", "someone_else", None, leader_pid=30),
]


def test_own_processes_are_left_where_they_are_unless_moved() -> None:
    placed = sides(PROCESSES, DB, {WORKER_PORT})
    assert placed == {
        **{pid: None for pid in (10, 11, 12, 13)},
        **{20: True, 21: False, 22: True, 23: False},
    }


def test_parallel_workers_follow_their_leader() -> None:
    placed = sides(PROCESSES, DB, {WORKER_PORT})
    assert placed[22] is True
    assert placed[23] is False


def test_own_processes_go_with_the_worker_when_moved() -> None:
    placed = sides(PROCESSES, DB, {WORKER_PORT}, auxiliaries=True)
    assert [placed[pid] for pid in (10, 11, 12, 13)] == [True] * 4
    assert placed[20] is True
    assert placed[21] is False


def test_backends_stay_with_the_api_when_not_apart() -> None:
    placed = sides(PROCESSES, DB, {WORKER_PORT}, backends=False)
    assert placed[20] is False
    assert placed[22] is False


def test_other_databases_backends_are_left_alone() -> None:
    placed = sides(PROCESSES, DB, {WORKER_PORT}, auxiliaries=True)
    assert 30 not in placed
    assert 31 not in placed
