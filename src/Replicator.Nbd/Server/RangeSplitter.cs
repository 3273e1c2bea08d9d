namespace Replicator.Nbd.Server;

/// <summary>
/// Runs a trim or write-zeroes longer than the backend's largest request as backend-sized pieces.
/// The protocol lets a client send these longer than the maximum, since no payload travels with
/// them (see docs/nbd.md); only the backend's own limit has to be kept.
/// </summary>
/// <remarks>
/// A few pieces run at once, so a long zeroing keeps the backend busy without flooding it (each
/// piece of the replicated backend is one guest request of the write filter). Pieces never
/// overlap, so their order does not matter. The first piece to fail decides the error: no
/// further piece starts, and the call ends only once every piece already started has finished,
/// so the client's reply never races a piece still writing.
/// </remarks>
internal static class RangeSplitter
{
    /// <summary>Pieces of one request in flight at once.</summary>
    public const int MaxPiecesInFlight = 4;

    /// <summary>
    /// Calls <paramref name="piece"/> for consecutive ranges of at most <paramref name="pieceBytes"/>
    /// covering <paramref name="offset"/>..<paramref name="offset"/>+<paramref name="length"/>.
    /// Completes when all started pieces have; throws the first failure.
    /// </summary>
    public static async Task RunAsync(long offset, long length, int pieceBytes, Func<long, int, ValueTask> piece)
    {
        ArgumentNullException.ThrowIfNull(piece);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pieceBytes);
        long end = offset + length;
        long next = offset;
        var running = new List<Task>(MaxPiecesInFlight);
        Task? firstFailed = null;
        while (true)
        {
            while (firstFailed is null && next < end && running.Count < MaxPiecesInFlight)
            {
                int chunk = (int)Math.Min(end - next, pieceBytes);
                running.Add(RunPieceAsync(piece, next, chunk));
                next += chunk;
            }

            if (running.Count == 0)
            {
                break;
            }

            Task done = await Task.WhenAny(running).ConfigureAwait(false);
            running.Remove(done);
            if (!done.IsCompletedSuccessfully)
            {
                firstFailed ??= done;
            }
        }

        if (firstFailed is not null)
        {
            // Rethrows that piece's own exception (or cancellation), which decides the client's error.
            await firstFailed.ConfigureAwait(false);
        }
    }

    // An async wrapper, so that a piece which throws before its first await fails its task
    // instead of the loop that starts it.
    private static async Task RunPieceAsync(Func<long, int, ValueTask> piece, long offset, int length) =>
        await piece(offset, length).ConfigureAwait(false);
}
