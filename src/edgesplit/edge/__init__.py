"""The edge tier: node wiring, dispatch and the upstream-or-edge policy, outbox and delivery,
the edge halves of split and speculative inference, re-planning."""
