"""Sync between tiers, the parts both sides share: signing keys and the bundle manifest.

The cloud publishes bundles into a TUF repository (:mod:`edgesplit.cloud.repository`) and
serves it (:mod:`edgesplit.cloud.sync_api`); every edge and local tier pulls, verifies and swaps
them in (:mod:`edgesplit.edge.sync`). TUF (The Update Framework) gives the guarantees: signed
lengths and hashes, versions that never go down, expiring timestamps, consistent snapshots.
"""
