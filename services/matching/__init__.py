"""CLOCK matching service: Firms, demands, ranked and explained matches, consortia,
introductions, engagements, equipment access, and supply-chain challenges (a large enterprise's
challenge, answered by teams of SMEs and labs the platform proposes).
"""
