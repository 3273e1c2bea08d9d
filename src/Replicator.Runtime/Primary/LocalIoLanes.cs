using System.Threading.Channels;

namespace Replicator.Runtime.Primary;

/// <summary>
/// The primary's local I/O workers, each with a queue of its own that only it reads: a request goes
/// to the worker with the fewest outstanding, so an idle one takes it at once and the guest's queue
/// depth still reaches the disk. One queue per reader, because a channel that several readers wait
/// on allocates a waiter for every reader but one each time they wait — on every guest write; a
/// single reader's wait reuses one.
/// </summary>
internal sealed class LocalIoLanes
{
    private readonly Channel<PrimaryEvent>[] _lanes;
    private readonly int[] _outstanding;

    public LocalIoLanes(int workers)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workers);
        _lanes = new Channel<PrimaryEvent>[workers];
        _outstanding = new int[workers];
        for (int i = 0; i < workers; i++)
        {
            // Written only from the node's event loop, read only by its worker.
            _lanes[i] = Channel.CreateUnbounded<PrimaryEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        }
    }

    public int Count => _lanes.Length;

    /// <summary>Queues the request on the least busy worker (the first of equals). From the event loop only.</summary>
    public void Post(in PrimaryEvent io)
    {
        int lane = 0;
        int least = Volatile.Read(ref _outstanding[0]);
        for (int i = 1; i < _lanes.Length && least > 0; i++)
        {
            int outstanding = Volatile.Read(ref _outstanding[i]);
            if (outstanding < least)
            {
                (lane, least) = (i, outstanding);
            }
        }

        Interlocked.Increment(ref _outstanding[lane]);
        _lanes[lane].Writer.TryWrite(io);
    }

    /// <summary>What worker <paramref name="lane"/> reads.</summary>
    public ChannelReader<PrimaryEvent> Reader(int lane) => _lanes[lane].Reader;

    /// <summary>Worker <paramref name="lane"/> finished one request.</summary>
    public void Done(int lane) => Interlocked.Decrement(ref _outstanding[lane]);

    /// <summary>No more requests: each worker ends once its queue is empty.</summary>
    public void Complete()
    {
        foreach (Channel<PrimaryEvent> lane in _lanes)
        {
            lane.Writer.TryComplete();
        }
    }
}
