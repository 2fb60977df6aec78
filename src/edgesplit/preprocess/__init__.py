"""Pre-processing as a request climbs: pluggable steps that run on a tier before routing or escalating.

Built in, registered under the ``edgesplit.preprocessors`` entry-point group (``pyproject.toml``):

- ``clean`` (before routing): broken encodings, control characters, whitespace runs;
- ``extract`` (before routing): timestamps, error codes and readings with units from device
  and maintenance logs, as fields the router and the upstream can use;
- ``compress`` (when escalating): a long context cut to the lines that matter for the question,
  chosen with the tier's own model; the original stays on the tier.

A package adds its own by declaring an entry point in the same group whose object is a
factory ``(Settings) -> Preprocessor``; ``preprocessors = ["clean", "extract", "my-step"]``
turns them on, in that order.
"""
