"""CLOCK catalog service: Labs, competences, equipment and service offerings of member
centres; search; duplicates; taxonomies.
"""
