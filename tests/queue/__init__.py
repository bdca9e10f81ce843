"""Tests of the installer queue: worker, sweep, serializer."""
