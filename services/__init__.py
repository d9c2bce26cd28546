"""The four CLOCK services; they never import each other."""
