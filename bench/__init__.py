"""podnex benchmarks (issue #8): `make bench` runs them and writes bench/README.md."""
