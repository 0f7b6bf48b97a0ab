"""jetsocket benchmarks: feed throughput, echo latency, memory per connection, sync facade.

Run ``python -m benchmarks`` (or ``make bench``); ``--quick`` is a < 60 s smoke test,
``--only feed,echo,memory,sync`` picks sections, ``--profile CLIENT`` profiles one feed run.
Every section runs jetsocket and its peers (picows, websockets, aiohttp) side by side in one
process, against a server in a separate process, and prints absolute figures and ratios
versus jetsocket. Results also go to ``benchmarks/results/latest.json``.
"""
