"""Between tiers: the upstream clients, the link monitor and circuit breaker, link probes, and the
user-space link emulator."""
