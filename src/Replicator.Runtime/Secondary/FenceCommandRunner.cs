using System.Diagnostics;
using System.Globalization;
using Replicator.Hosts.Secondary;

namespace Replicator.Runtime.Secondary;

/// <summary>What a fence command did: whether it succeeded (exit 0 in time), and how, for the log.</summary>
public readonly record struct FenceOutcome(bool Succeeded, string Detail);

/// <summary>
/// Runs the operator's fence command with <c>/bin/sh -c</c>, the old primary's identity in its
/// environment (REPLICATOR_PAIR_ID, REPLICATOR_PEER, REPLICATOR_GENERATION), and kills it (and its
/// children) when it outlives its timeout. Its output is read to its end but only its tail kept,
/// and the last line of that goes to the log: a command that prints without end costs no memory.
/// </summary>
public static class FenceCommandRunner
{
    public static async Task<FenceOutcome> RunAsync(FenceRequest request, TimeProvider time, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(request);
        var start = new ProcessStartInfo("/bin/sh")
        {
            ArgumentList = { "-c", request.Command },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["REPLICATOR_PAIR_ID"] = request.PairId;
        start.Environment["REPLICATOR_PEER"] = request.Peer;
        start.Environment["REPLICATOR_GENERATION"] = request.Generation;
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("no process was started");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return new FenceOutcome(false, $"could not start /bin/sh: {e.Message}");
        }

        using (process)
        {
            Task<string> output = TailAsync(process.StandardOutput, cancellation);
            Task<string> errors = TailAsync(process.StandardError, cancellation);
            using var deadline = new CancellationTokenSource(request.Timeout, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellation);
            try
            {
                await process.WaitForExitAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                return new FenceOutcome(false, deadline.IsCancellationRequested
                    ? string.Create(CultureInfo.InvariantCulture, $"still running after {request.Timeout.TotalMilliseconds} ms: killed")
                    : "the node is stopping");
            }

            string said = LastLine(await errors.ConfigureAwait(false)) ?? LastLine(await output.ConfigureAwait(false)) ?? "no output";
            return new FenceOutcome(process.ExitCode == 0, string.Create(CultureInfo.InvariantCulture, $"exit {process.ExitCode}: {said}"));
        }
    }

    /// <summary>What a command printed, all of it read (so it never blocks on a full pipe) but only the last <see cref="KeptChars"/> kept.</summary>
    private static async Task<string> TailAsync(StreamReader reader, CancellationToken cancellation)
    {
        char[] chunk = new char[KeptChars];
        string kept = string.Empty;
        int read;
        while ((read = await reader.ReadAsync(chunk.AsMemory(), cancellation).ConfigureAwait(false)) > 0)
        {
            string joined = kept + new string(chunk, 0, read);
            kept = joined.Length > KeptChars ? joined[^KeptChars..] : joined;
        }

        return kept;
    }

    /// <summary>How much of a fence command's output is kept for the log.</summary>
    private const int KeptChars = 4096;

    private static string? LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } lines ? lines[^1] : null;
}
