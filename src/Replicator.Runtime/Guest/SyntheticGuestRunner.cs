using Replicator.Core.Blocks;
using Replicator.Core.Guest;
using Replicator.Core.Vm;
using Replicator.Runtime.Primary;

namespace Replicator.Runtime.Guest;

/// <summary>
/// Runs the synthetic guest against a real primary node: issues its requests with a set queue
/// depth, stops issuing while the node has it paused, and folds completions into its model on the
/// node's loop, in completion order. The lock makes pause, capture and request generation, which
/// run on different threads, take turns.
/// </summary>
public sealed class SyntheticGuestRunner(SyntheticGuest guest) : IVirtualMachine
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _running = CompletedSource();

    public SyntheticGuest Guest => guest;

    /// <summary>Called (under the guest's lock) with the guest's own record of each checkpoint as it is captured.</summary>
    public Action<GuestCheckpoint>? Captured { get; set; }

    public void Pause()
    {
        lock (_lock)
        {
            guest.Pause();
            _running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void ResumeExecution()
    {
        lock (_lock)
        {
            guest.ResumeExecution();
            _running.TrySetResult();
        }
    }

    public VmSnapshot CaptureChanges(long epoch)
    {
        lock (_lock)
        {
            VmSnapshot snapshot = guest.CaptureChanges(epoch);
            Captured?.Invoke(guest.ExpectedAt(epoch)!);
            return snapshot;
        }
    }

    public VmSnapshot CaptureAll(long epoch)
    {
        lock (_lock)
        {
            VmSnapshot snapshot = guest.CaptureAll(epoch);
            Captured?.Invoke(guest.ExpectedAt(epoch)!);
            return snapshot;
        }
    }

    public void Restore(VmState state)
    {
        lock (_lock)
        {
            guest.Restore(state);
        }
    }

    /// <summary>Issues <paramref name="requests"/> requests, at most <paramref name="queueDepth"/> at once, and waits for them all.</summary>
    public async Task RunAsync(PrimaryNode node, long requests, int queueDepth, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(node);
        node.GuestRequestCompleted = (state, status) =>
        {
            lock (_lock)
            {
                guest.OnCompleted((GuestRequest)state!, status);
            }
        };

        using var slots = new SemaphoreSlim(queueDepth);
        var inFlight = new List<Task>(queueDepth * 2);
        for (long i = 0; i < requests; i++)
        {
            await slots.WaitAsync(cancellation).ConfigureAwait(false);
            GuestRequest request = await NextRequestAsync(cancellation).ConfigureAwait(false);
            var completion = new TaskCompletionSource<RequestStatus>(request, TaskCreationOptions.RunContinuationsAsynchronously);
            node.Submit(request.Request, request.Payload, completion);
            inFlight.Add(completion.Task.ContinueWith(static (_, s) => ((SemaphoreSlim)s!).Release(), slots, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
            inFlight.RemoveAll(t => t.IsCompleted);
        }

        await Task.WhenAll(inFlight).WaitAsync(cancellation).ConfigureAwait(false);
    }

    private async Task<GuestRequest> NextRequestAsync(CancellationToken cancellation)
    {
        while (true)
        {
            Task running;
            lock (_lock)
            {
                if (!guest.IsPaused)
                {
                    return guest.NextRequest();
                }

                running = _running.Task;
            }

            await running.WaitAsync(cancellation).ConfigureAwait(false);
        }
    }

    private static TaskCompletionSource CompletedSource()
    {
        var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.SetResult();
        return source;
    }
}
