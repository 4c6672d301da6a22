"""What a build writes: shards, rejects, the funnel, summaries and the manifest."""
