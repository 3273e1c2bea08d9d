using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Replicator.Core.Storage;
using Replicator.Hosts.Links;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Witness;

namespace Replicator.Hosts.Witness;

/// <summary>
/// The witness: the third vote that lets a pair fail over automatically without ever making two
/// writers (I6). A primary may acknowledge guest writes while it holds a lease from here (or while
/// its secondary follows it); a secondary may promote itself only with this witness's vote, which
/// is given only once no lease runs and only to a node that holds the generation the pair's writer
/// last held here — and is recorded durably before it is answered, so one generation is promoted
/// at most once. Sans-I/O: the shell feeds connections and decoded requests from one loop and
/// moves the answers; time is read only through the injected <see cref="TimeProvider"/>.
/// </summary>
public sealed partial class WitnessHost
{
    private readonly WitnessHostOptions _options;
    private readonly WitnessRecordStore _records;
    private readonly IWitnessHostActions _actions;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Dictionary<LinkId, Connection> _links = new();
    private readonly Dictionary<string, PairState> _pairs = new(StringComparer.Ordinal);
    private readonly long _startedAt;
    private int _pairCount;

    public WitnessHost(WitnessHostOptions options, IStorageDirectory stateDirectory, IWitnessHostActions actions, ILogger log, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stateDirectory);
        ArgumentNullException.ThrowIfNull(actions);
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(time);
        _options = options;
        _records = new WitnessRecordStore(stateDirectory);
        _actions = actions;
        _log = log;
        _time = time;
        _startedAt = time.GetTimestamp();
        Metrics = options.Meter is { } meter ? new WitnessMetrics(meter, this) : null;
    }

    /// <summary>The host's instruments, when the shell gave it a meter; the shell counts its own refusals here too.</summary>
    public WitnessMetrics? Metrics { get; }

    /// <summary>Pairs with a record loaded or made since the witness started (read by the gauge from any thread).</summary>
    internal int PairCount => Volatile.Read(ref _pairCount);

    /// <summary>Promotions voted for since this witness started, over all pairs.</summary>
    public int VotesGranted { get; private set; }

    /// <summary>What the witness knows of each pair it heard from since it started (on its loop).</summary>
    public IReadOnlyList<WitnessPairStatus> Pairs()
    {
        long now = _time.GetTimestamp();
        return _pairs.Values
            .Where(p => p.Record is not null)
            .Select(p => new WitnessPairStatus(
                p.Record!.PairId,
                p.Record.Generations,
                p.Record.Holder,
                p.LeaseHeldUntil > now ? _time.GetElapsedTime(now, p.LeaseHeldUntil) : TimeSpan.Zero,
                p.PrimarySeen == 0 ? null : _time.GetElapsedTime(p.PrimarySeen, now),
                p.SecondarySeen == 0 ? null : _time.GetElapsedTime(p.SecondarySeen, now),
                p.Record.Promotions))
            .ToList();
    }

    /// <summary>A connection proved the pair key; nothing it sends before was read.</summary>
    public void OnLinkConnected(LinkId link, string peer) => _links[link] = new Connection(peer, _time.GetTimestamp());

    public void OnLinkClosed(LinkId link) => _links.Remove(link);

    /// <summary>A frame that could not be read as a request: its connection is closed, nothing else changes.</summary>
    public void OnMalformed(LinkId link, string reason)
    {
        if (_links.Remove(link, out Connection? connection))
        {
            Log.Malformed(_log, connection.Peer, reason);
            _actions.Close(link, reason);
        }
    }

    /// <summary>The shell's timer: connections silent for the idle timeout are closed.</summary>
    public void OnTick()
    {
        foreach ((LinkId link, Connection connection) in _links.Where(l => _time.GetElapsedTime(l.Value.LastHeard) > _options.IdleTimeout).ToList())
        {
            _links.Remove(link);
            _actions.Close(link, string.Create(CultureInfo.InvariantCulture, $"no request for {_options.IdleTimeout.TotalMilliseconds} ms"));
            Log.Idle(_log, connection.Peer);
        }
    }

    /// <summary>A request: answered on its link, or the link closed when the request is not one a node of a pair sends.</summary>
    public void OnRequest(LinkId link, WitnessRequestMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!_links.TryGetValue(link, out Connection? connection))
        {
            return;
        }

        long now = _time.GetTimestamp();
        connection.LastHeard = now;
        if (Malformation(request) is { } malformed)
        {
            _links.Remove(link);
            Log.Malformed(_log, connection.Peer, malformed);
            _actions.Close(link, malformed);
            return;
        }

        WitnessAnswerMessage answer;
        if (PairOf(request.PairId, out PairState? pair) is { } unusable)
        {
            answer = Refuse(request, unusable, DataGenerations.None);
        }
        else
        {
            answer = request.Kind switch
            {
                WitnessRequestKind.Lease => Lease(pair!, request, now),
                WitnessRequestKind.Vote => Vote(pair!, request, now),
                _ => Presence(pair!, request, now),
            };
        }

        if (answer.Verdict != WitnessVerdict.Granted)
        {
            Log.NotGranted(_log, request.PairId, request.Kind.ToString(), connection.Peer, answer.Verdict.ToString(), answer.Reason ?? string.Empty);
        }

        Metrics?.Answered(request.Kind, answer.Verdict);
        _actions.Answer(link, answer);
    }

    /// <summary>
    /// A primary's lease: granted for the generation the pair's writer holds here, or for one that
    /// descends from it (the primary went on writing without its secondary: from now on no vote can
    /// promote that secondary); never for a generation that was taken over.
    /// </summary>
    private WitnessAnswerMessage Lease(PairState pair, WitnessRequestMessage request, long now)
    {
        pair.PrimarySeen = now;
        DataGenerations mine = request.Generations;
        DataGenerations held = pair.Record!.Generations;
        if (!held.IsBlank && !mine.Current!.Equals(held.Current) && !mine.Holds(held.Current))
        {
            return new WitnessAnswerMessage
            {
                Kind = request.Kind,
                Verdict = WitnessVerdict.Superseded,
                SentAt = request.SentAt,
                Reason = mine.Lineage().FirstOrDefault(held.Holds) is { } takenOver
                    ? $"{takenOver.Describe()} was taken over: the pair's data is in {held.Current!.Describe()}, held by its {RoleText(pair.Record.Holder)}; this node must never acknowledge a write of its generation {mine.Current!.Describe()} again"
                    : $"this node's {mine.Current!.Describe()} shares no history with the generation the witness holds ({held.Current!.Describe()}): an operator must choose",
                PairGenerations = held,
            };
        }

        if (!mine.Current!.Equals(held.Current) && Record(pair, pair.Record with { Generations = mine, Holder = NodeRole.Primary, ChangedAt = _time.GetUtcNow() }) is { } failed)
        {
            return Refuse(request, failed, held);
        }

        long holdUntil = now + (long)(TimeSpan.FromMilliseconds(request.LeaseMilliseconds).TotalSeconds * _options.ClockRateAllowance * _time.TimestampFrequency);
        pair.LeaseHeldUntil = Math.Max(pair.LeaseHeldUntil, holdUntil);
        return Granted(request, pair);
    }

    /// <summary>
    /// A secondary's vote: granted only when it holds the generation the pair's writer holds here,
    /// no primary's lease runs (or may run: the witness just started), and the promotion it proposes
    /// is recorded durably first. Asking again for the same proposal is granted again (the first answer was lost).
    /// </summary>
    private WitnessAnswerMessage Vote(PairState pair, WitnessRequestMessage request, long now)
    {
        pair.SecondarySeen = now;
        DataGenerations mine = request.Generations;
        DataGenerations held = pair.Record!.Generations;
        GenerationMark proposed = request.Proposed!;
        if (proposed.Equals(held.Current) && held.History.Count > 0 && held.History[0].Equals(mine.Current))
        {
            return Granted(request, pair);
        }

        if (!held.IsBlank && !mine.Current!.Equals(held.Current))
        {
            return new WitnessAnswerMessage
            {
                Kind = request.Kind,
                Verdict = WitnessVerdict.Superseded,
                SentAt = request.SentAt,
                Reason = held.Holds(mine.Current)
                    ? $"the pair's writer went on to {held.Current!.Describe()} without this node (it holds {mine.Current!.Describe()}): promoting it would lose writes already acknowledged"
                    : $"this node's {mine.Current!.Describe()} is not in the history the witness holds ({held.Current!.Describe()}): the two diverged; an operator must choose",
                PairGenerations = held,
            };
        }

        if (_time.GetElapsedTime(_startedAt, now) < _options.MaxLease * _options.ClockRateAllowance)
        {
            return Refuse(request, string.Create(CultureInfo.InvariantCulture, $"the witness started {_time.GetElapsedTime(_startedAt, now).TotalMilliseconds:0} ms ago and votes only after {(_options.MaxLease * _options.ClockRateAllowance).TotalMilliseconds:0} ms: a primary's lease granted before it stopped may still run"), held);
        }

        if (pair.LeaseHeldUntil > now)
        {
            return Refuse(request, string.Create(CultureInfo.InvariantCulture, $"the primary's lease runs for another {_time.GetElapsedTime(now, pair.LeaseHeldUntil).TotalMilliseconds:0} ms: it asked {_time.GetElapsedTime(pair.PrimarySeen, now).TotalMilliseconds:0} ms ago"), held);
        }

        WitnessRecord promoted = pair.Record with { Generations = mine.Begin(proposed), Holder = NodeRole.Secondary, Promotions = pair.Record.Promotions + 1, ChangedAt = _time.GetUtcNow() };
        if (Record(pair, promoted) is { } failed)
        {
            return Refuse(request, failed, held);
        }

        VotesGranted++;
        Log.VoteGranted(_log, request.PairId, mine.Current!.Describe(), proposed.Describe());
        return Granted(request, pair);
    }

    /// <summary>A secondary says it is alive: it learns what the witness holds; nothing changes.</summary>
    private static WitnessAnswerMessage Presence(PairState pair, WitnessRequestMessage request, long now)
    {
        pair.SecondarySeen = now;
        return Granted(request, pair);
    }

    /// <summary>Writes the record durably, then keeps it; returns why it could not be written, or null.</summary>
    private string? Record(PairState pair, WitnessRecord record)
    {
        try
        {
            _records.Save(record);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = $"the witness could not record the pair's new state in {_records.PathOf(record.PairId)}: {e.Message}";
            Log.RecordFailed(_log, reason);
            return reason;
        }

        pair.Record = record;
        Log.Recorded(_log, record.PairId, record.Generations.ToString(), RoleText(record.Holder));
        return null;
    }

    /// <summary>The pair's state, its record loaded on first use; or why the pair cannot be served.</summary>
    private string? PairOf(string pairId, out PairState? pair)
    {
        if (_pairs.TryGetValue(pairId, out pair))
        {
            return pair.Unusable;
        }

        if (_pairs.Count >= _options.MaxPairs)
        {
            pair = null;
            return string.Create(CultureInfo.InvariantCulture, $"the witness keeps records for {_options.MaxPairs} pairs already (--max-pairs)");
        }

        pair = new PairState();
        try
        {
            pair.Record = _records.Load(pairId) ?? new WitnessRecord { PairId = pairId };
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            // Never a fresh start over a record that cannot be read: a forgotten vote could be granted twice.
            pair.Unusable = $"the witness cannot use its record for this pair: {e.Message}";
            Log.RecordFailed(_log, pair.Unusable);
        }

        _pairs[pairId] = pair;
        Volatile.Write(ref _pairCount, _pairs.Count);
        return pair.Unusable;
    }

    /// <summary>What makes a request one no node of a pair sends, or null.</summary>
    private string? Malformation(WitnessRequestMessage request)
    {
        if (request.ProtocolVersion != _options.ProtocolVersion)
        {
            return string.Create(CultureInfo.InvariantCulture, $"protocol version {request.ProtocolVersion}; this witness speaks {_options.ProtocolVersion}");
        }

        if (request.PairId is null || !PairIdPattern().IsMatch(request.PairId))
        {
            return "a pair id the witness cannot keep a record for (1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-', not starting with '.')";
        }

        bool roleFits = request.Kind switch
        {
            WitnessRequestKind.Lease => request.Role == NodeRole.Primary,
            WitnessRequestKind.Vote or WitnessRequestKind.Presence => request.Role == NodeRole.Secondary,
            _ => false,
        };
        if (!roleFits)
        {
            return $"a {request.Kind} request from a {request.Role} node";
        }

        if (request.Generations is null || request.Generations.Problem() is not null || request.Generations.IsBlank)
        {
            return $"generations that cannot be used: {request.Generations?.Problem() ?? "none"}";
        }

        if (request.Kind == WitnessRequestKind.Lease && (request.LeaseMilliseconds <= 0 || request.LeaseMilliseconds > _options.MaxLease.TotalMilliseconds))
        {
            return string.Create(CultureInfo.InvariantCulture, $"a lease of {request.LeaseMilliseconds} ms (this witness grants 1 to {_options.MaxLease.TotalMilliseconds} ms: --max-lease-ms)");
        }

        return request.Kind == WitnessRequestKind.Vote && (request.Proposed is null || request.Proposed.Id == 0 || request.Generations.Holds(request.Proposed))
            ? "a vote without a new generation to promote into"
            : null;
    }

    private static WitnessAnswerMessage Granted(WitnessRequestMessage request, PairState pair) =>
        new() { Kind = request.Kind, Verdict = WitnessVerdict.Granted, SentAt = request.SentAt, PairGenerations = pair.Record!.Generations };

    private static WitnessAnswerMessage Refuse(WitnessRequestMessage request, string reason, DataGenerations held) =>
        new() { Kind = request.Kind, Verdict = WitnessVerdict.Refused, SentAt = request.SentAt, Reason = reason, PairGenerations = held };

    private static string RoleText(NodeRole role) => role switch
    {
        NodeRole.Primary => "leased primary",
        NodeRole.Secondary => "promoted secondary",
        _ => "writer",
    };

    [GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex PairIdPattern();

    private sealed class Connection(string peer, long since)
    {
        public string Peer { get; } = peer;

        public long LastHeard { get; set; } = since;
    }

    /// <summary>One pair as the witness holds it: its record, the lease it holds for the primary, who asked when.</summary>
    private sealed class PairState
    {
        public WitnessRecord? Record { get; set; }

        public string? Unusable { get; set; }

        public long LeaseHeldUntil { get; set; }

        public long PrimarySeen { get; set; }

        public long SecondarySeen { get; set; }
    }
}
