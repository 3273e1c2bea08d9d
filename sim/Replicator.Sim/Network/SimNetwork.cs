using Replicator.Protocol.Framing;
using Replicator.Sim.Faults;
using Replicator.Sim.World;

namespace Replicator.Sim.Network;

/// <summary>
/// The wire between the two hosts: bandwidth (a frame occupies the link for its length), latency
/// with jitter, lost packets retransmitted, duplicates discarded, delay spikes, partitions each
/// way that heal on their own schedule, connection resets, and bytes flipped beyond the
/// transport's notice. Frames that fail the receiver's checks close the connection.
/// </summary>
internal sealed class SimNetwork
{
    private readonly SimScheduler _clock;
    private readonly NetworkProfile _profile;
    private readonly Random _random;
    private readonly Trace _trace;
    private readonly Action<string> _violation;
    private readonly int _maxBodyLength;
    private readonly List<(long From, long Until, PartitionDirection Direction)> _partitions = new();
    private readonly List<(long From, long Until, long ExtraUs)> _spikes = new();
    private readonly Direction _toSecondary = new();
    private readonly Direction _toPrimary = new();
    private int _nextConnectionId = 1;

    public SimNetwork(SimScheduler clock, NetworkProfile profile, Random random, Trace trace, Action<string> violation, int maxBodyLength)
    {
        _clock = clock;
        _profile = profile;
        _random = random;
        _trace = trace;
        _violation = violation;
        _maxBodyLength = maxBodyLength;
    }

    public ILinkEndpoint? Primary { get; set; }

    public ILinkEndpoint? Secondary { get; set; }

    public long PacketsLost { get; private set; }

    public long PacketsDuplicated { get; private set; }

    public long FramesCorrupted { get; private set; }

    public long FramesRejected { get; private set; }

    public long BytesToSecondary { get; private set; }

    /// <summary>The newest connection, open or not.</summary>
    public SimConnection? Current { get; private set; }

    public SimConnection Connect()
    {
        var connection = new SimConnection(_nextConnectionId++);
        Current = connection;
        _toSecondary.Assembler = new FrameAssembler(_profile.Mode, _maxBodyLength);
        _toPrimary.Assembler = new FrameAssembler(_profile.Mode, _maxBodyLength);
        _toSecondary.Connection = _toPrimary.Connection = connection;
        _trace.Event("connect", connection.Id);
        return connection;
    }

    public void Partition(long from, long until, PartitionDirection direction) => _partitions.Add((from, until, direction));

    public void DelaySpike(long from, long until, long extraUs) => _spikes.Add((from, until, extraUs));

    /// <summary>The next frame sent this way has a byte flipped.</summary>
    public void CorruptNext(bool toSecondary) => (toSecondary ? _toSecondary : _toPrimary).CorruptNext = true;

    /// <summary>Sends one encoded frame. Nothing happens if the connection is closed.</summary>
    public void Send(SimConnection connection, bool toSecondary, byte[] frame, uint linkSequence)
    {
        if (!connection.IsOpen)
        {
            return;
        }

        Direction direction = toSecondary ? _toSecondary : _toPrimary;
        if (toSecondary)
        {
            BytesToSecondary += frame.Length;
        }

        if (direction.CorruptNext || _random.NextDouble() < _profile.CorruptionRate)
        {
            direction.CorruptNext = false;
            frame[_random.Next(frame.Length)] ^= (byte)(1 << _random.Next(8));
            (toSecondary ? connection.CorruptedToSecondary : connection.CorruptedToPrimary).Add(linkSequence);
            FramesCorrupted++;
            _trace.Event("corrupt", connection.Id, linkSequence);
        }

        // A stream may deliver a frame in two pieces, so a reset can fall between them.
        int split = _profile.Mode == LinkMode.Stream && frame.Length > 32 && _random.NextDouble() < 0.25 ? 1 + _random.Next(frame.Length - 1) : frame.Length;
        Transmit(connection, direction, toSecondary, frame, 0, split);
        if (split < frame.Length)
        {
            Transmit(connection, direction, toSecondary, frame, split, frame.Length - split);
        }
    }

    /// <summary>The connection is cut (a reset, or a node closing it): each live side hears of it after a network delay.</summary>
    public void Close(SimConnection connection, string reason, ILinkEndpoint? closedBy = null)
    {
        if (!connection.Close(reason))
        {
            return;
        }

        _trace.Event("close", connection.Id);
        _trace.Note(() => $"connection {connection.Id} closed: {reason}");
        foreach (ILinkEndpoint? side in new[] { Primary, Secondary })
        {
            if (side is not null && side != closedBy)
            {
                _clock.After(_profile.LatencyUs, () =>
                {
                    if (side.IsReachable)
                    {
                        side.OnClosed(connection, reason);
                    }
                });
            }
        }
    }

    /// <summary>
    /// A process died and its kernel closes the socket: what it had sent still arrives, then the
    /// close. Nothing more is sent from it.
    /// </summary>
    public void CloseAfterInFlight(SimConnection connection, string reason)
    {
        long drained = Math.Max(_clock.Now, Math.Max(_toSecondary.LastArrival, _toPrimary.LastArrival));
        _clock.At(drained + 1, () => Close(connection, reason));
    }

    private void Transmit(SimConnection connection, Direction direction, bool toSecondary, byte[] frame, int offset, int length)
    {
        long now = _clock.Now;
        long start = Math.Max(now, direction.LinkFreeAt);
        long end = start + (long)Math.Ceiling(length / _profile.BytesPerUs);
        direction.LinkFreeAt = end;
        long arrival = end + _profile.LatencyUs + (_profile.JitterUs > 0 ? _random.NextInt64(_profile.JitterUs + 1) : 0) + SpikeAt(now);
        while (_random.NextDouble() < _profile.LossRate)
        {
            arrival += _profile.RetransmitTimeoutUs;
            PacketsLost++;
        }

        if (_random.NextDouble() < _profile.DuplicateRate)
        {
            // The copy reaches the transport, which drops it by its sequence number.
            PacketsDuplicated++;
        }

        arrival = Math.Max(arrival, HealedAt(now, toSecondary) + _profile.LatencyUs);
        if (_profile.Mode == LinkMode.Stream)
        {
            arrival = Math.Max(arrival, direction.LastArrival);
        }

        direction.LastArrival = Math.Max(direction.LastArrival, arrival);

        byte[] piece = frame.AsSpan(offset, length).ToArray();
        FrameAssembler assembler = direction.Assembler!;
        _clock.At(arrival, () => Arrive(connection, assembler, toSecondary, piece));
    }

    private void Arrive(SimConnection connection, FrameAssembler assembler, bool toSecondary, byte[] piece)
    {
        ILinkEndpoint? receiver = toSecondary ? Secondary : Primary;
        if (!connection.IsOpen || receiver is null || !receiver.IsReachable)
        {
            return;
        }

        try
        {
            assembler.Receive(piece, frame =>
            {
                if (!connection.IsOpen || !receiver.IsReachable)
                {
                    return;
                }

                if ((toSecondary ? connection.CorruptedToSecondary : connection.CorruptedToPrimary).Contains(frame.Header.LinkSequence))
                {
                    _violation($"frame checksum: corrupted frame {frame.Header.LinkSequence} ({frame.Type}) was accepted");
                }

                receiver.OnFrame(connection, frame);
            });
        }
        catch (ProtocolViolationException e)
        {
            FramesRejected++;
            _trace.Event("frame rejected", connection.Id);
            Close(connection, $"{(toSecondary ? "secondary" : "primary")} rejected a frame: {e.Message}", receiver);
            receiver.OnClosed(connection, e.Message);
        }
    }

    private long SpikeAt(long now)
    {
        long extra = 0;
        foreach (var spike in _spikes)
        {
            if (now >= spike.From && now < spike.Until)
            {
                extra = Math.Max(extra, spike.ExtraUs);
            }
        }

        return extra;
    }

    /// <summary>When a packet sent now can first get through: partitions that hold it, followed until none does.</summary>
    private long HealedAt(long now, bool toSecondary)
    {
        long at = now;
        bool moved = true;
        while (moved)
        {
            moved = false;
            foreach (var p in _partitions)
            {
                bool blocks = p.Direction == PartitionDirection.BothWays || (p.Direction == PartitionDirection.ToSecondary) == toSecondary;
                if (blocks && at >= p.From && at < p.Until)
                {
                    at = p.Until;
                    moved = true;
                }
            }
        }

        return at;
    }

    private sealed class Direction
    {
        public SimConnection? Connection { get; set; }

        public FrameAssembler? Assembler { get; set; }

        public long LinkFreeAt { get; set; }

        public long LastArrival { get; set; }

        public bool CorruptNext { get; set; }
    }
}
