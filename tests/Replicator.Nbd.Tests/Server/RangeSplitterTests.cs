using System.Collections.Concurrent;
using System.Threading.Channels;
using Replicator.Nbd.Protocol;
using Replicator.Nbd.Server;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Server;

/// <summary>
/// Splitting a long trim or write-zeroes: pieces cover the range exactly, a bounded number run at
/// once, and on failure the first error wins, nothing new starts, and the call ends only after
/// every started piece has.
/// </summary>
public class RangeSplitterTests
{
    private const int Piece = 4096;

    [Theory]
    [InlineData(Piece, new[] { "0+4096" })]
    [InlineData(3 * Piece, new[] { "0+4096", "4096+4096", "8192+4096" })]
    [InlineData((2 * Piece) + 512, new[] { "0+4096", "4096+4096", "8192+512" })]
    public async Task Pieces_cover_the_range_exactly_and_none_exceeds_the_piece_size(long length, string[] expected)
    {
        var calls = new ConcurrentQueue<string>();

        await RangeSplitter.RunAsync(0, length, Piece, (offset, pieceLength) =>
        {
            calls.Enqueue($"{offset}+{pieceLength}");
            return ValueTask.CompletedTask;
        });

        Assert.Equal(expected, calls);
    }

    [Fact]
    public async Task A_range_beyond_four_gigabytes_of_pieces_is_addressed_without_overflow()
    {
        long total = 0;
        long last = 0;

        await RangeSplitter.RunAsync(1L << 40, uint.MaxValue - 511, 4 << 20, (offset, pieceLength) =>
        {
            total += pieceLength;
            last = offset + pieceLength;
            return ValueTask.CompletedTask;
        });

        Assert.Equal(uint.MaxValue - 511, total);
        Assert.Equal((1L << 40) + uint.MaxValue - 511, last);
    }

    [Fact]
    public async Task At_most_a_few_pieces_run_at_once_and_each_finished_one_makes_room_for_the_next()
    {
        const int pieces = 10;
        var started = Channel.CreateUnbounded<TaskCompletionSource>();
        Task run = RangeSplitter.RunAsync(0, pieces * Piece, Piece, (_, _) =>
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            started.Writer.TryWrite(gate);
            return new ValueTask(gate.Task);
        });

        var running = new Queue<TaskCompletionSource>();
        for (int i = 0; i < RangeSplitter.MaxPiecesInFlight; i++)
        {
            running.Enqueue(await started.Reader.ReadAsync(Deadline.Token()));
        }

        for (int next = RangeSplitter.MaxPiecesInFlight; next < pieces; next++)
        {
            // A piece starts only when one finishes: none is waiting beyond the window.
            Assert.False(started.Reader.TryRead(out _));
            running.Dequeue().SetResult();
            running.Enqueue(await started.Reader.ReadAsync(Deadline.Token()));
        }

        while (running.TryDequeue(out TaskCompletionSource? gate))
        {
            gate.SetResult();
        }

        await run.WaitAsync(Deadline.Token());
        Assert.False(started.Reader.TryRead(out _));
    }

    [Fact]
    public async Task The_first_failure_wins_no_new_piece_starts_and_the_call_waits_for_pieces_still_running()
    {
        var slow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var laterFailure = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = new ConcurrentQueue<long>();
        var first = new NbdBackendException(NbdError.NoSpace, "piece 1 failed");

        Task run = RangeSplitter.RunAsync(0, 8 * Piece, Piece, (offset, _) =>
        {
            calls.Enqueue(offset);
            return (offset / Piece) switch
            {
                0 => new ValueTask(slow.Task),
                1 => throw first, // synchronously, before any await
                2 => new ValueTask(laterFailure.Task),
                _ => ValueTask.CompletedTask,
            };
        });

        // Piece 0 still runs, so the call cannot have ended, whatever else has failed.
        Assert.False(run.IsCompleted);
        laterFailure.SetException(new IOException("piece 2 failed later"));
        Assert.False(run.IsCompleted);

        slow.SetResult();
        NbdBackendException thrown = await Assert.ThrowsAsync<NbdBackendException>(() => run.WaitAsync(Deadline.Token()));

        Assert.Same(first, thrown);
        Assert.Equal([0L, Piece, 2 * Piece, 3 * Piece], calls.Order()); // the first window only
    }

    [Fact]
    public async Task A_cancelled_piece_ends_the_call_as_cancelled()
    {
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            RangeSplitter.RunAsync(0, 2 * Piece, Piece, (_, _) => ValueTask.FromCanceled(cancel.Token)));
    }
}
