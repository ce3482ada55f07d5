"""Test-wide settings: the size limit is pinned so that messages that print it do not depend
on the memory of the machine running the tests (``lagdsl.limits``)."""
import os

os.environ.setdefault("LAGDSL_MAX_ELEMENTS", "10000000")
