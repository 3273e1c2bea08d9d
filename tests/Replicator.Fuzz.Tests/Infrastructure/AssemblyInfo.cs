// The harnesses measure allocations and the NBD server's connections process-wide: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
