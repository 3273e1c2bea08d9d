using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Replicator.Nbd.Server;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Server;

/// <summary>The accept loop ends on stop and on nothing else; the accept call is faked to fail as a listener out of descriptors does.</summary>
public class AcceptLoopTests
{
    [Theory]
    [InlineData(SocketError.TooManyOpenSockets, false, nameof(AcceptFailure.BackOff))] // EMFILE and ENFILE both
    [InlineData(SocketError.NoBufferSpaceAvailable, false, nameof(AcceptFailure.BackOff))]
    [InlineData(SocketError.OperationAborted, false, nameof(AcceptFailure.BackOff))]
    [InlineData(SocketError.ConnectionReset, false, nameof(AcceptFailure.ClientGone))]
    [InlineData(SocketError.ConnectionAborted, false, nameof(AcceptFailure.ClientGone))]
    [InlineData(SocketError.OperationAborted, true, nameof(AcceptFailure.Stopped))]
    [InlineData(SocketError.TooManyOpenSockets, true, nameof(AcceptFailure.Stopped))]
    public void Socket_errors_are_classified(SocketError error, bool stopping, string expected) =>
        Assert.Equal(expected, AcceptLoop.Classify(new SocketException((int)error), stopping).ToString());

    [Fact]
    public void Only_stopping_ends_the_loop_whatever_the_exception()
    {
        Assert.Equal(AcceptFailure.BackOff, AcceptLoop.Classify(new ObjectDisposedException("listener"), stopping: false));
        Assert.Equal(AcceptFailure.BackOff, AcceptLoop.Classify(new InvalidOperationException(), stopping: false));
        Assert.Equal(AcceptFailure.Stopped, AcceptLoop.Classify(new ObjectDisposedException("listener"), stopping: true));
        Assert.Equal(AcceptFailure.Stopped, AcceptLoop.Classify(new OperationCanceledException(), stopping: true));
    }

    [Fact]
    public async Task Out_of_descriptors_the_loop_waits_then_accepts_again_and_logs_once_per_interval()
    {
        var time = new TimerWatchingTimeProvider();
        var log = new ListLogger();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        int calls = 0;
        ValueTask<Socket> Accept(CancellationToken stopping) => Interlocked.Increment(ref calls) switch
        {
            <= 3 => throw new SocketException((int)SocketError.TooManyOpenSockets),
            4 => ValueTask.FromResult(socket),
            _ => new ValueTask<Socket>(UntilStoppedAsync(stopping)),
        };
        var admitted = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        Task loop = new AcceptLoop(Accept, s => admitted.TrySetResult(s), time, log).RunAsync(stop.Token);

        // Each failure: a delay starts, and the next accept waits for it (no spinning on the error).
        await time.TimerStartedAsync(AcceptLoop.RetryDelay);
        Assert.Equal(1, calls);
        time.Advance(AcceptLoop.RetryDelay);
        await time.TimerStartedAsync(AcceptLoop.RetryDelay);
        Assert.Equal(2, calls);

        // Past the log's interval: the third failure is logged with the one held back.
        time.Advance(TimeSpan.FromSeconds(10));
        await time.TimerStartedAsync(AcceptLoop.RetryDelay);
        Assert.Equal(3, calls);
        time.Advance(AcceptLoop.RetryDelay);

        Assert.Same(socket, await admitted.Task.WaitAsync(Deadline.Wait));
        string[] lines = [.. log.Entries.Where(e => e.Level == LogLevel.Error).Select(e => e.Message)];
        Assert.Equal(2, lines.Length);
        Assert.Contains("could not accept a connection", lines[0], StringComparison.Ordinal);
        Assert.Contains("(1 more failures since the last report)", lines[1], StringComparison.Ordinal);

        await stop.CancelAsync();
        await loop.WaitAsync(Deadline.Wait);
    }

    [Fact]
    public async Task A_client_that_reset_before_it_was_accepted_costs_no_wait()
    {
        var time = new TimerWatchingTimeProvider();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        int calls = 0;
        ValueTask<Socket> Accept(CancellationToken stopping) => Interlocked.Increment(ref calls) switch
        {
            1 => throw new SocketException((int)SocketError.ConnectionReset),
            2 => ValueTask.FromResult(socket),
            _ => new ValueTask<Socket>(UntilStoppedAsync(stopping)),
        };
        var admitted = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var log = new ListLogger();
        Task loop = new AcceptLoop(Accept, s => admitted.TrySetResult(s), time, log).RunAsync(stop.Token);

        // No clock advance at all: the reset is passed over at once, and not logged.
        Assert.Same(socket, await admitted.Task.WaitAsync(Deadline.Wait));
        Assert.Empty(log.Entries);

        await stop.CancelAsync();
        await loop.WaitAsync(Deadline.Wait);
    }

    [Fact]
    public async Task Stopping_during_the_wait_ends_the_loop()
    {
        var time = new TimerWatchingTimeProvider();
        ValueTask<Socket> Accept(CancellationToken stopping) => throw new SocketException((int)SocketError.TooManyOpenSockets);
        using var stop = new CancellationTokenSource();
        Task loop = new AcceptLoop(Accept, _ => { }, time, new ListLogger()).RunAsync(stop.Token);

        await time.TimerStartedAsync(AcceptLoop.RetryDelay);
        await stop.CancelAsync();
        await loop.WaitAsync(Deadline.Wait);
    }

    private static async Task<Socket> UntilStoppedAsync(CancellationToken stopping)
    {
        await Task.Delay(Timeout.Infinite, stopping);
        throw new InvalidOperationException("unreachable: the delay only ends by cancellation");
    }
}
