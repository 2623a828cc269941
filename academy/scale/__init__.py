"""Scale data for benchmarks: a national academy's worth of organisations, learners and work."""
