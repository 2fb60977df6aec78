"""Speculative decoding's shared parts: draft text to target tokens, and the draft length."""
