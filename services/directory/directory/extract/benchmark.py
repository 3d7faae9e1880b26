"""Measure the extract layer: generation speed, parse throughput and peak memory."""

import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

from directory.extract.reader import ExtractReader, Record
from directory.extract.records import RecentOrganisations, professionals
from directory.extract.synthetic import generate
from directory.extract.valuesets import load_value_sets


def peak_rss_mb() -> float:
    """Peak resident memory of this process image, in MB.

    VmHWM first: getrusage's ru_maxrss survives exec, so a freshly spawned worker would
    report its parent's peak at fork time.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_and_group(path: Path) -> dict:
    """Read an extract, group its professionals and organisations; return counts and timing."""
    reader = ExtractReader(path, value_sets=load_value_sets())
    recent = RecentOrganisations()
    people = organisations = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    records = (item for item in reader if isinstance(item, Record))
    for person in professionals(records):
        people += 1
        organisations += sum(1 for site in person.sites if recent.is_new(site))
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    stats = reader.stats
    return {
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "lines": stats.lines,
        "records": stats.records,
        "rejected": stats.rejected,
        "warned": stats.warned,
        "professionals": people,
        "organisations": organisations,
        "parse_seconds": round(seconds, 3),
        "parse_lines_per_second": round(stats.lines / seconds),
        # CPU time: the figure per core, less sensitive to other work on the machine.
        "parse_lines_per_cpu_second": round(stats.lines / cpu_seconds),
    }


def measure(rows: int, workdir: Path | str | None = None, seed: int = 1) -> dict:
    """Generate `rows` lines, then parse and group them; figures for bench/directory.py.

    The parse runs in a fresh (spawned) process so that its peak memory is its own, not the
    generator's: a calling script must call this under `if __name__ == "__main__":`.
    """
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        path = Path(folder) / "PS_LibreAcces_Personne_activite.txt"
        started = time.process_time()
        generate(path, rows, seed=seed)
        generated = time.process_time() - started
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            figures = pool.apply(parse_and_group, (path,))
        return {
            "rows": rows,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "generate_lines_per_cpu_second": round(rows / generated),
            **figures,
        }
