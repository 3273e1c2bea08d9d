using Replicator.Runtime.Primary;

namespace Replicator.Runtime.Tests.Primary;

/// <summary>The local I/O workers' queues: a request goes to the least busy worker, so an idle one takes it at once.</summary>
public sealed class LocalIoLanesTests
{
    [Fact]
    public void Each_request_goes_to_the_worker_with_the_fewest_outstanding()
    {
        var lanes = new LocalIoLanes(3);
        for (long id = 1; id <= 3; id++)
        {
            lanes.Post(new PrimaryEvent(PrimaryEventKind.Submit, id));
        }

        // One each: none was given a second while another stood idle.
        Assert.Equal([1L, 2, 3], Enumerable.Range(0, 3).Select(lane => Take(lanes, lane)));

        lanes.Done(1);
        lanes.Post(new PrimaryEvent(PrimaryEventKind.Submit, 4));
        Assert.Equal(4, Take(lanes, 1)); // the only idle worker

        lanes.Done(0);
        lanes.Done(2);
        lanes.Post(new PrimaryEvent(PrimaryEventKind.Submit, 5));
        Assert.Equal(5, Take(lanes, 0)); // the first of equals
    }

    [Fact]
    public async Task Completing_ends_every_worker_once_its_queue_is_empty()
    {
        var lanes = new LocalIoLanes(2);
        lanes.Post(new PrimaryEvent(PrimaryEventKind.Submit, 1));
        lanes.Complete();

        Assert.Equal(1, Take(lanes, 0));
        await lanes.Reader(0).Completion.WaitAsync(TimeSpan.FromSeconds(10));
        await lanes.Reader(1).Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static long Take(LocalIoLanes lanes, int lane)
    {
        Assert.True(lanes.Reader(lane).TryRead(out PrimaryEvent io), $"worker {lane} was given nothing");
        return io.Id;
    }
}
