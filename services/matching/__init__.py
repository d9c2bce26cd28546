"""CLOCK matching service: Firms, demands, ranked and explained matches, consortia,
introductions, engagements, equipment access.
"""
