"""traces.py - every system's request-boundary trace (format in trace.h),
turned into figures by one piece of code, so that the systems are measured
the same way.

Each thread's trace t[0..n] holds the monotonic clock at the start of its
first request and at the end of each request, so t[i+1] - t[i] is the
latency of request i.

Pauses.  The nominal request time is the median latency of the run.  A
request that took longer than nominal + max(nominal, 20 us), that is more
than twice the usual time and at least 20 us more, was paused: by the
collector's safepoint work, a stopped world, a lock, the interpreter lock
or the operating system alike.  The pause is the time beyond the nominal,
and it is placed at the end of that request: [t[i] + nominal, t[i+1]].

Minimum mutator utilisation.  For a window length w, the utilisation of a
window is the fraction of the T mutators' time in it that was not paused;
MMU(w) is the minimum over all windows of length w inside the span where
every mutator ran.
"""
import array
import bisect
import math
import struct

PAUSE_FLOOR_NS = 20_000
PERCENTILES = (0.5, 0.9, 0.99, 0.999)


def load(path):
    """The per-thread timestamp arrays of a trace file."""
    threads = []
    with open(path, "rb") as f:
        (nthreads,) = struct.unpack("<Q", f.read(8))
        if not 0 < nthreads <= 1024:
            raise ValueError(f"{path}: implausible thread count {nthreads}")
        for _ in range(nthreads):
            (n,) = struct.unpack("<Q", f.read(8))
            ts = array.array("Q")
            ts.frombytes(f.read(8 * n))
            if len(ts) != n:
                raise ValueError(f"{path}: truncated")
            threads.append(ts)
    return threads


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (p in [0, 1])."""
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1,
                             max(0, math.ceil(p * len(sorted_values)) - 1))]


class Trace:
    def __init__(self, path):
        self.threads = [ts for ts in load(path) if len(ts) >= 2]
        if not self.threads:
            raise ValueError(f"{path}: no requests")
        lat = []
        for ts in self.threads:
            lat.extend(b - a for a, b in zip(ts, ts[1:]))
        lat.sort()
        self.latencies = lat
        self.nominal = percentile(lat, 0.5)
        self.threshold = self.nominal + max(self.nominal, PAUSE_FLOOR_NS)
        # The span in which every mutator ran.
        self.begin = max(ts[0] for ts in self.threads)
        self.end = min(ts[-1] for ts in self.threads)
        self.pauses = []          # (start, end) ns, all threads
        for ts in self.threads:
            for a, b in zip(ts, ts[1:]):
                if b - a > self.threshold:
                    self.pauses.append((a + self.nominal, b))
        self.pause_lengths = sorted(e - s for s, e in self.pauses)

    # ---- summaries

    def latency_summary(self):
        out = {"requests": len(self.latencies),
               "nominal_us": self.nominal / 1e3}
        for p in PERCENTILES:
            out[f"p{p * 100:g}_us"] = percentile(self.latencies, p) / 1e3
        out["max_us"] = self.latencies[-1] / 1e3
        return out

    def pause_summary(self):
        span = sum(ts[-1] - ts[0] for ts in self.threads)
        lengths = self.pause_lengths
        return {
            "pauses": len(lengths),
            "pause_threshold_us": self.threshold / 1e3,
            "pause_p50_us": percentile(lengths, 0.5) / 1e3,
            "pause_p99_us": percentile(lengths, 0.99) / 1e3,
            "pause_max_us": (lengths[-1] if lengths else 0) / 1e3,
            "paused_fraction": sum(lengths) / span if span else 0,
        }

    # ---- curves for the plots

    def latency_curve(self):
        """(1 / (1 - p), latency us) from p = 0 up to the last request."""
        n = len(self.latencies)
        points = []
        k = 0
        while True:
            tail = 10 ** (-k / 20)            # 1 - p
            if tail * n < 1:
                break
            p = 1 - tail
            points.append((1 / tail, percentile(self.latencies, p) / 1e3))
            k += 1
        points.append((float(n), self.latencies[-1] / 1e3))
        return points

    def pause_histogram(self, per_octave=4):
        """Log-linear buckets: each power of two split into per_octave
        equal parts.  (low us, high us, count) for the non-empty ones."""
        counts = {}
        for v in self.pause_lengths:
            e = v.bit_length() - 1
            base = 1 << e
            j = (v - base) * per_octave // base
            counts[(e, j)] = counts.get((e, j), 0) + 1
        rows = []
        for (e, j), c in sorted(counts.items()):
            base = 1 << e
            lo = base + base * j // per_octave
            hi = base + base * (j + 1) // per_octave
            rows.append((lo / 1e3, hi / 1e3, c))
        return rows

    def mmu(self, windows_ns):
        """[(w ns, MMU)] for each window length that fits in the span."""
        begin, end = self.begin, self.end
        nthreads = len(self.threads)
        # F(x): paused thread-time in [begin, x], piecewise linear.
        events = []
        for s, e in self.pauses:
            s, e = max(s, begin), min(e, end)
            if s < e:
                events.append((s, 1))
                events.append((e, -1))
        events.sort()
        xs, fs, slopes = [begin], [0], []
        slope = 0
        for t, d in events:
            if t != xs[-1]:
                fs.append(fs[-1] + slope * (t - xs[-1]))
                xs.append(t)
                slopes.append(slope)
            slope += d
        if xs[-1] != end:
            fs.append(fs[-1] + slope * (end - xs[-1]))
            xs.append(end)
            slopes.append(slope)
        slopes.append(0)

        def f_at(x):
            i = bisect.bisect_right(xs, x) - 1
            return fs[i] + slopes[i] * (x - xs[i])

        out = []
        for w in windows_ns:
            if w > end - begin:
                break
            worst = 0
            # The most paused window starts or ends at a breakpoint.
            for x in xs:
                if x + w <= end:
                    worst = max(worst, f_at(x + w) - f_at(x))
                if x - w >= begin:
                    worst = max(worst, f_at(x) - f_at(x - w))
            out.append((w, max(0.0, 1 - worst / (nthreads * w))))
        return out


def mmu_windows():
    """Window lengths from 100 us to 1 s, four per decade."""
    return [int(10 ** (5 + k / 4)) for k in range(17)]
