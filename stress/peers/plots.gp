# plots.gp - the server workload's three plots, one curve per system.
# run_peers.py calls it once per live-heap size with
#   gnuplot -e "datadir='D'; outdir='O'; live='1M'; systems='ouro boehm ...'"
# Inputs (written by run_peers.py from the traces):
#   D/pauses_<live>_<system>.dat   low_us high_us count  (log-linear buckets)
#   D/latency_<live>_<system>.dat  1/(1-p) latency_us
#   D/mmu_<live>_<system>.dat      window_ms mmu
# Outputs: O/pauses_<live>.svg, O/latency_<live>.svg, O/mmu_<live>.svg

set terminal svg size 900,560 dynamic font "sans,13" background rgb "white"
set grid
set key top left box opaque
file(kind, s) = sprintf("%s/%s_%s_%s.dat", datadir, kind, live, s)

# Pause-time histogram: pauses found in the request traces, bucketed
# log-linearly (each power of two in four); drawn at bucket midpoints.
set output sprintf("%s/pauses_%s.svg", outdir, live)
set title sprintf("Mutator pauses, live heap %s (from request traces)", live)
set xlabel "pause length (us)"
set ylabel "pauses"
set logscale xy
set format x "%g"
set key top right
plot for [s in systems] file("pauses", s) using (sqrt($1*$2)):3 \
     with linespoints pointsize 0.6 title s

# Request latency by percentile.
set output sprintf("%s/latency_%s.svg", outdir, live)
set title sprintf("Request latency by percentile, live heap %s", live)
set xlabel "percentile"
set ylabel "latency (us)"
set logscale xy
set format x "%g"
set xtics ("0%%" 1, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000, \
           "99.999%%" 100000, "99.9999%%" 1000000)
set key top left
plot for [s in systems] file("latency", s) using 1:2 with lines lw 2 title s

# Minimum mutator utilisation.
set output sprintf("%s/mmu_%s.svg", outdir, live)
set title sprintf("Minimum mutator utilisation, live heap %s", live)
set xlabel "window (ms)"
set ylabel "MMU"
unset logscale
set logscale x
set xtics auto
set format x "%g"
set yrange [0:1]
set key top left
plot for [s in systems] file("mmu", s) using 1:2 with linespoints \
     pointsize 0.6 lw 2 title s
