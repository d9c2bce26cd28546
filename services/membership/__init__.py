"""CLOCK membership service: Organisations, adhesion applications, memberships, the protocol term
and the coordination committee.
"""
