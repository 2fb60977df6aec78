"""The cloud tier: node wiring, the idempotent result store, split sessions and verify sessions."""
