"""Edge drafts, cloud verifies: lossless speculative decoding across the link and across tokenizers."""
