"""consolidate: the reporting cycle of a state targeted programme (CMU order 496-р)."""

__version__ = "0.1.0"
