"""The benchmark harness behind `make bench` (run.py), beside the peers in ../shared/peers."""
