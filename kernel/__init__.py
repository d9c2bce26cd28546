"""The shared kernel of CLOCK: what every service needs and no rule of any one service.

It never imports a service.
"""
