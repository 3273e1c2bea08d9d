using System.Globalization;
using Replicator.Hosts.Links;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Witness;

namespace Replicator.Hosts.Witness;

/// <summary>
/// A node's side of its witness: reaching it (again, after a pause, whenever it is lost), asking at
/// every heartbeat, and what its answers mean — the lease a primary holds, or the vote a secondary
/// waits for. Owned by the node's host, on its loop; sans-I/O like it.
/// </summary>
public sealed class WitnessSession
{
    /// <summary>Beyond the connect timeout, how long a shell may take to report a connect (its TLS handshake bound, with room).</summary>
    private static readonly TimeSpan ConnectReportBound = TimeSpan.FromSeconds(30);

    private readonly WitnessSessionOptions _options;
    private readonly IWitnessTransport _transport;
    private readonly TimeProvider _time;
    private readonly NodeRole _role;
    private readonly long _leaseTicks;
    private LinkId _link;
    private bool _connecting;
    private long _lastAttempt;
    private long _lastAnswer;
    private long _leaseUntil;
    private GenerationMark? _leaseFor;

    public WitnessSession(WitnessSessionOptions options, NodeRole role, IWitnessTransport transport, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(time);
        _options = options;
        _role = role;
        _transport = transport;
        _time = time;
        _leaseTicks = (long)(options.Lease.TotalSeconds * time.TimestampFrequency);
    }

    public string Address => _options.Address;

    public WitnessContact Contact => !_link.IsNone ? WitnessContact.Connected : _connecting ? WitnessContact.Connecting : WitnessContact.Unreachable;

    /// <summary>Why the witness is not reached, for the status (null once it answers).</summary>
    public string? LastProblem { get; private set; }

    /// <summary>What the status shows: the witness's address and whether it is reached (and why not).</summary>
    public string Describe() => Contact == WitnessContact.Connected
        ? $"{Address}: connected"
        : $"{Address}: {Contact.ToString().ToLowerInvariant()}{(LastProblem is { } problem ? $" ({problem})" : string.Empty)}";

    /// <summary>Whether <paramref name="link"/> is the witness's (connected, not a peer's).</summary>
    public bool Owns(LinkId link) => !link.IsNone && link == _link;

    /// <summary>Whether a lease granted for <paramref name="current"/> still runs at <paramref name="now"/>.</summary>
    public bool HoldsLease(GenerationMark? current, long now) => current is not null && current.Equals(_leaseFor) && now < _leaseUntil;

    /// <summary>
    /// At every heartbeat: a silent witness is dropped, a lost one is reached again after the retry
    /// delay, and a connected one is asked <paramref name="periodic"/>'s question.
    /// </summary>
    public void OnTick(DataGenerations generations, WitnessRequestKind periodic)
    {
        if (KeepConnected())
        {
            Ask(periodic, generations, proposed: null);
        }
    }

    /// <summary>The connection's upkeep of <see cref="OnTick"/> without its question (the caller asks its own); true when connected.</summary>
    public bool KeepConnected()
    {
        long now = _time.GetTimestamp();
        if (!_link.IsNone && _time.GetElapsedTime(_lastAnswer, now) > _options.Timeout)
        {
            LinkId silent = _link;
            _link = LinkId.None;
            LastProblem = string.Create(CultureInfo.InvariantCulture, $"no answer for {_options.Timeout.TotalMilliseconds} ms");
            _transport.CloseWitness(silent, LastProblem);
        }

        if (_connecting && _time.GetElapsedTime(_lastAttempt, now) > _options.Timeout * 4 + ConnectReportBound)
        {
            // The shell reports every connect (its TCP connect and TLS handshake are bounded); this
            // only guards against one that never does. Never sooner: a second connection would race the first.
            _connecting = false;
        }

        if (_link.IsNone)
        {
            if (!_connecting && (_lastAttempt == 0 || _time.GetElapsedTime(_lastAttempt, now) >= _options.RetryDelay))
            {
                _connecting = true;
                _lastAttempt = now;
                _transport.ConnectWitness(_options.Timeout);
            }

            return false;
        }

        return true;
    }

    /// <summary>Asks now, if connected; returns whether the request went out.</summary>
    public bool Ask(WitnessRequestKind kind, DataGenerations generations, GenerationMark? proposed)
    {
        ArgumentNullException.ThrowIfNull(generations);
        if (_link.IsNone || generations.IsBlank)
        {
            return false;
        }

        _transport.SendToWitness(_link, new WitnessRequestMessage
        {
            ProtocolVersion = _options.ProtocolVersion,
            PairId = _options.PairId,
            Role = _role,
            Kind = kind,
            Generations = generations,
            Proposed = proposed,
            SentAt = _time.GetTimestamp(),
            LeaseMilliseconds = kind == WitnessRequestKind.Lease ? (int)_options.Lease.TotalMilliseconds : 0,
        });
        return true;
    }

    /// <summary>The connection asked for is open (the witness proved the pair key).</summary>
    public void OnConnected(LinkId link)
    {
        _connecting = false;
        if (!_link.IsNone)
        {
            _transport.CloseWitness(link, "a witness connection is open already");
            return;
        }

        _link = link;
        _lastAnswer = _time.GetTimestamp();
    }

    public void OnConnectFailed(string reason)
    {
        _connecting = false;
        LastProblem = reason;
    }

    /// <summary>The witness's link closed; returns whether it was the witness's.</summary>
    public bool OnClosed(LinkId link, string reason)
    {
        if (!Owns(link))
        {
            return false;
        }

        _link = LinkId.None;
        LastProblem = reason;
        return true;
    }

    /// <summary>
    /// An answer: a granted lease runs from when it was asked; everything is handed back for the
    /// host to act on (a vote, a refusal, a supersession). An answer that echoes a time not yet come
    /// is no answer to anything this node asked and grants nothing.
    /// </summary>
    public WitnessAnswerMessage? OnAnswer(WitnessAnswerMessage answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        long now = _time.GetTimestamp();
        if (answer.SentAt <= 0 || answer.SentAt > now)
        {
            return null;
        }

        _lastAnswer = now;
        LastProblem = null;
        if (answer is { Kind: WitnessRequestKind.Lease, Verdict: WitnessVerdict.Granted, PairGenerations.Current: { } granted })
        {
            if (!granted.Equals(_leaseFor))
            {
                _leaseFor = granted;
                _leaseUntil = 0;
            }

            _leaseUntil = Math.Max(_leaseUntil, answer.SentAt + _leaseTicks);
        }

        return answer;
    }
}
