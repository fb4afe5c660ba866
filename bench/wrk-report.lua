-- Prints one machine-readable line after a wrk run:
--   rps=<requests/s> p50_ms=<..> p95_ms=<..> p99_ms=<..> errors=<n>
done = function(summary, latency, requests)
   local secs = summary.duration / 1e6
   local errs = summary.errors.connect + summary.errors.read + summary.errors.write
              + summary.errors.status + summary.errors.timeout
   io.write(string.format("rps=%.0f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f errors=%d\n",
      summary.requests / secs, latency:percentile(50) / 1000,
      latency:percentile(95) / 1000, latency:percentile(99) / 1000, errs))
end
