using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Replicator.Hosts.Secondary;
using Replicator.Runtime.Primary;

namespace Replicator.Runtime.Control;

/// <summary>
/// <c>replicator events</c>: a node's state changes as JSON lines, as <c>drbdsetup events2</c> gives
/// DRBD's. The first line (<c>exists</c>) is the whole status; then, at each look, a <c>change</c>
/// line with the fields whose value changed, or a <c>role</c> line with the whole status when the
/// node changed role (promoted, handed over). Progress fields that move all the time (epochs,
/// bytes, counts) are left out of changes: the metrics carry them. Each stream looks at the node
/// on its own timer, so a slow reader holds up no one but itself.
/// </summary>
public sealed class StatusEvents(Func<StatusSample> sample, TimeProvider time, TimeSpan interval)
{
    /// <summary>How often a stream looks at the node: a state that lasts less may not be seen.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Status fields that are progress, not state: shown in <c>exists</c> and <c>role</c> lines, never as a change.</summary>
    public static readonly IReadOnlySet<string> ProgressFields = new HashSet<string>(StringComparer.Ordinal)
    {
        nameof(PrimaryStatus.CurrentEpoch), nameof(PrimaryStatus.LastAcknowledgedEpoch), nameof(PrimaryStatus.UnacknowledgedCheckpoints),
        nameof(PrimaryStatus.InFlight), nameof(PrimaryStatus.Queued), nameof(PrimaryStatus.CreditAvailable),
        nameof(PrimaryStatus.ResyncBytesLeft), nameof(PrimaryStatus.ResyncRegionsLeft), nameof(PrimaryStatus.ReconnectAttempts),
        nameof(PrimaryStatus.Sync), nameof(PrimaryStatus.SyncBytesCopied), nameof(PrimaryStatus.SyncMBps), nameof(PrimaryStatus.SyncSecondsLeft),
        nameof(PrimaryStatus.SyncBytesFoundEqual), nameof(PrimaryStatus.HeldAnswers),
        nameof(SecondaryStatus.LastCommittedEpoch), nameof(SecondaryStatus.LastAppliedEpoch), nameof(SecondaryStatus.BufferedBytes),
        nameof(SecondaryStatus.WritebackBacklogBytes),
    };

    public async IAsyncEnumerable<JsonObject> StreamAsync([EnumeratorCancellation] CancellationToken cancellation)
    {
        StatusSample last = sample();
        yield return Line("exists", last, Whole(last.State));
        using var timer = new PeriodicTimer(interval, time);
        while (await Tick(timer, cancellation).ConfigureAwait(false))
        {
            StatusSample now = sample();
            if (!string.Equals(now.Role, last.Role, StringComparison.Ordinal))
            {
                yield return Line("role", now, Whole(now.State));
            }
            else if (Changes(last.State, now.State) is { Count: > 0 } changes)
            {
                yield return Line("change", now, changes);
            }

            last = now;
        }
    }

    /// <summary>The next look, or false once the stream is cancelled (the reader left, or the node stops).</summary>
    private static async Task<bool> Tick(PeriodicTimer timer, CancellationToken cancellation)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellation).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>The state fields whose value differs (a field gone is a change to null).</summary>
    private static JsonObject Changes(JsonObject? before, JsonObject? after)
    {
        var changes = new JsonObject();
        foreach ((string key, JsonNode? value) in after ?? [])
        {
            if (!ProgressFields.Contains(key) && !JsonNode.DeepEquals(value, before?[key]))
            {
                changes[key] = value?.DeepClone();
            }
        }

        foreach ((string key, _) in before ?? [])
        {
            if (!ProgressFields.Contains(key) && after?.ContainsKey(key) != true && before![key] is not null)
            {
                changes[key] = null;
            }
        }

        return changes;
    }

    private static JsonObject? Whole(JsonObject? state) => (JsonObject?)state?.DeepClone();

    private JsonObject Line(string type, StatusSample sample, JsonObject? fields) => new()
    {
        ["time"] = time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture),
        ["type"] = type,
        ["role"] = sample.Role,
        [type == "change" ? "changes" : "state"] = fields,
    };
}
