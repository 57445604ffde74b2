"""Lotse routing: decides which authority is responsible for a client's matter, and (to come) carries
referrals through their lifecycle. Being built: see the top-level README."""
