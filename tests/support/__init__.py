"""Helpers shared by the test modules: one tracker factory, reply checks, a fake HTTP endpoint.

Test modules import from here, never from one another.
"""
