"""CLOCK reporting service: Every event kept; KPIs by period and dimension; immutable periodic
reports and exports.
"""
