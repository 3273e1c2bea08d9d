using Replicator.Core.Blocks;
using Replicator.Core.Guest;
using Replicator.Core.Vm;
using Replicator.Runtime.Primary;

namespace Replicator.Runtime.Guest;

/// <summary>
/// Runs the synthetic guest against a real primary node: issues its requests with a set queue
/// depth (and, if asked, at a set data rate), stops issuing while the node has it paused, and
/// folds completions into its model on the node's loop, in completion order. The lock makes pause,
/// capture, request generation and completions, which run on different threads, take turns.
/// </summary>
public sealed class SyntheticGuestRunner(SyntheticGuest guest, TimeProvider? time = null) : IVirtualMachine
{
    // How often a paced guest tops up its allowance; it may run this far ahead of its rate at most twice over.
    private static readonly TimeSpan PaceStep = TimeSpan.FromMilliseconds(1);

    private readonly Lock _lock = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private TaskCompletionSource _running = CompletedSource();
    private SemaphoreSlim? _slots;
    private long _requestsCompleted;
    private long _bytesCompleted;
    private long _pagesCaptured;

    public SyntheticGuest Guest => guest;

    /// <summary>Called (under the guest's lock) with the guest's own record of each checkpoint as it is captured.</summary>
    public Action<GuestCheckpoint>? Captured { get; set; }

    /// <summary>Called on the node's loop with each request's latency: submitted → completed by the write filter.</summary>
    public Action<TimeSpan>? RequestLatency { get; set; }

    /// <summary>Requests completed so far, successfully or not.</summary>
    public long RequestsCompleted => Interlocked.Read(ref _requestsCompleted);

    /// <summary>Bytes of data changed by requests that completed successfully (writes, write-zeroes, trims).</summary>
    public long BytesCompleted => Interlocked.Read(ref _bytesCompleted);

    /// <summary>RAM pages carried by the snapshots captured so far.</summary>
    public long PagesCaptured => Interlocked.Read(ref _pagesCaptured);

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
            Interlocked.Add(ref _pagesCaptured, snapshot.Pages.Count);
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

    public void Release(VmSnapshot snapshot)
    {
        lock (_lock)
        {
            guest.Release(snapshot);
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
    public Task RunAsync(PrimaryNode node, long requests, int queueDepth, CancellationToken cancellation) =>
        RunCoreAsync(node, requests, queueDepth, 0, cancellation, cancellation);

    /// <summary>
    /// Issues requests for <paramref name="duration"/>, at most <paramref name="queueDepth"/> at
    /// once and, when <paramref name="bytesPerSecond"/> is above 0, at about that data rate (as
    /// fast as the node takes them otherwise), then waits for those still in flight.
    /// </summary>
    public async Task RunForAsync(PrimaryNode node, TimeSpan duration, int queueDepth, long bytesPerSecond, CancellationToken cancellation)
    {
        using var issuing = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        issuing.CancelAfter(duration);
        await RunCoreAsync(node, long.MaxValue, queueDepth, bytesPerSecond, issuing.Token, cancellation).ConfigureAwait(false);
    }

    private async Task RunCoreAsync(PrimaryNode node, long requests, int queueDepth, long bytesPerSecond, CancellationToken issuing, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(node);
        // Not disposed: a request abandoned by cancellation may still complete and release it later.
        var slots = new SemaphoreSlim(queueDepth);
        _slots = slots;
        using PeriodicTimer? pace = bytesPerSecond > 0 ? new PeriodicTimer(PaceStep, _time) : null;
        double allowance = 0, cap = bytesPerSecond * 2 * PaceStep.TotalSeconds;
        long refilled = _time.GetTimestamp();
        bool holdingSlot = false;
        try
        {
            for (long i = 0; i < requests; i++)
            {
                await slots.WaitAsync(issuing).ConfigureAwait(false);
                holdingSlot = true;
                while (pace is not null)
                {
                    // A token bucket that may go into debt: each request waits until the rate has
                    // paid for the last one, whatever its size.
                    long now = _time.GetTimestamp();
                    allowance = Math.Min(cap, allowance + (bytesPerSecond * _time.GetElapsedTime(refilled, now).TotalSeconds));
                    refilled = now;
                    if (allowance > 0)
                    {
                        break;
                    }

                    await pace.WaitForNextTickAsync(issuing).ConfigureAwait(false);
                }

                GuestRequest request = await NextRequestAsync(issuing).ConfigureAwait(false);
                allowance -= request.Request.ChangesData ? request.Request.Length : 0;
                var pending = new PendingRequest(this, request, _time.GetTimestamp());
                holdingSlot = false; // the request's completion gives it back
                node.Submit(request.Request, request.Payload, pending);
            }
        }
        catch (OperationCanceledException) when (issuing.IsCancellationRequested && !cancellation.IsCancellationRequested)
        {
            // Time is up: stop issuing, and let the requests in flight finish.
            if (holdingSlot)
            {
                slots.Release();
            }
        }

        // Every slot back means every request issued has completed.
        for (int i = 0; i < queueDepth; i++)
        {
            await slots.WaitAsync(cancellation).ConfigureAwait(false);
        }

        _slots = null;
    }

    /// <summary>On the primary's loop, in completion order: the synthetic guest models its disk in that order.</summary>
    private void OnCompleted(PendingRequest pending, RequestStatus status)
    {
        lock (_lock)
        {
            guest.OnCompleted(pending.Request, status);
        }

        BlockRequest r = pending.Request.Request;
        Interlocked.Increment(ref _requestsCompleted);
        if (status == RequestStatus.Ok && r.ChangesData)
        {
            Interlocked.Add(ref _bytesCompleted, r.Length);
        }

        RequestLatency?.Invoke(_time.GetElapsedTime(pending.Submitted));
        _slots?.Release();
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

    /// <summary>A request on its way: what the guest asked, and when; its completion goes back to the runner.</summary>
    private sealed record PendingRequest(SyntheticGuestRunner Runner, GuestRequest Request, long Submitted) : IGuestRequestCompletion
    {
        public void Complete(RequestStatus status) => Runner.OnCompleted(this, status);
    }
}
