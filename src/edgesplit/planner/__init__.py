"""The split planner: measured compute and link costs in, the best split point out."""
