using System.Buffers;
using MessagePack;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Vm;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;

namespace Replicator.Fuzz.Tests.Infrastructure;

/// <summary>
/// Writes the seed corpora: valid inputs of every kind each harness reads, made with the project's
/// own writers (<see cref="FrameWriter"/>, the MessagePack codec) or, for NBD, from the protocol's
/// text. Deterministic: the same bytes every time, so the committed files can be checked against it.
/// </summary>
internal static class CorpusGenerator
{
    public const string Frames = "frames";
    public const string Mirror = "mirror";
    public const string Control = "control";
    public const string HandshakeTarget = "handshake";
    public const string NbdNegotiation = "nbd-negotiation";
    public const string NbdTransmission = "nbd-transmission";

    private static readonly string[] ToPrimary = ["welcome", "credit", "ack", "ack-timings", "verify-result", "heartbeat", "reject", "error"];

    /// <summary>The identity the handshake harness checks peers against.</summary>
    public static PairIdentity LocalIdentity() =>
        new() { PairId = "pair-a", ImageBytes = 1L << 30, BlockSize = 4096, MaxRequestBytes = 1 << 20 };

    /// <summary>Every target's generated files: target → (file name → bytes).</summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, byte[]>> All() => new Dictionary<string, IReadOnlyDictionary<string, byte[]>>
    {
        [Frames] = FrameStreams(),
        [Mirror] = MirrorBodies().ToDictionary(m => $"gen-{m.Key}.bin", m => m.Value),
        [Control] = ControlBodies().ToDictionary(m => $"gen-{m.Key}.bin", m => m.Value),
        [HandshakeTarget] = HandshakeBodies(),
        [NbdNegotiation] = NegotiationStreams(),
        [NbdTransmission] = TransmissionStreams(),
    };

    private static byte[] Pattern(int length, int salt) => Enumerable.Range(0, length).Select(i => (byte)((i * 31) + salt)).ToArray();

    private static Dictionary<string, MirrorRecord> MirrorRecords() => new()
    {
        ["write-512"] = new MirrorRecord(2, 7, BlockRequest.Write(8192, 512), Pattern(512, 1)),
        ["write-4096-fua"] = new MirrorRecord(2, 8, BlockRequest.Write(1 << 20, 4096, fua: true), Pattern(4096, 2)),
        ["zeroes"] = new MirrorRecord(2, 9, BlockRequest.Zeroes(65536, 1 << 20, fua: true), default),
        ["trim"] = new MirrorRecord(2, 10, BlockRequest.Trim(0, 4096), default),
        ["flush"] = new MirrorRecord(2, 11, BlockRequest.Flush(), default),
        ["skipped"] = new MirrorRecord(2, 12, new BlockRequest(BlockOp.Skipped, 0, 0), default),
        ["verify"] = new MirrorRecord(2, 13, new BlockRequest(BlockOp.Verify, 65536, 131072), Pattern(32, 3)),
    };

    private static Dictionary<string, byte[]> MirrorBodies() => MirrorRecords().ToDictionary(
        r => r.Key,
        r =>
        {
            byte[] body = new byte[MirrorHeader.Size + r.Value.Payload.Length];
            MirrorHeader.Write(r.Value, body);
            r.Value.Payload.Span.CopyTo(body.AsSpan(MirrorHeader.Size));
            return body;
        });

    public static CheckpointMessage Checkpoint(bool resync) => CheckpointMessage.From(new CheckpointRecord(
        2, 7, 12, 0x1234_5678_9ABC_DEF0, new VmSnapshot(2, Pattern(64, 3), [new VmPage(0, Pattern(256, 4)), new VmPage(513, Pattern(256, 5))]), 0x0FED_CBA9_8765_4321)
    {
        StartsResync = resync,
        ResyncPending = resync,
    });

    /// <summary>A checkpoint whose pages a link's encoder wrote: a zero page, one that runs, one of text, and one too random to shrink.</summary>
    public static CheckpointMessage EncodedCheckpoint(PageEncoding encoding)
    {
        byte[] sparse = new byte[1024];
        Pattern(16, 6).CopyTo(sparse, 200);
        byte[] text = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("checkpoint pages ", 61)))[..1024];
        byte[] noise = new byte[1024];
        new Random(7).NextBytes(noise);
        var pages = new VmPage[] { new(0, new byte[1024]), new(3, sparse), new(4, text), new(9, noise) };
        return CheckpointMessage.From(
            new CheckpointRecord(3, 13, 13, 0x0BAD_F00D, new VmSnapshot(3, Pattern(32, 8), pages), 0x5EED),
            new CheckpointPageEncoder(encoding, 64 * 1024));
    }

    /// <summary>One message of every control type (some twice), with the frame type each travels in.</summary>
    public static IReadOnlyList<(string Name, FrameType Type, object Message)> ControlMessages() =>
    [
        ("hello", FrameType.Hello, new HelloMessage { ProtocolVersion = Handshake.ProtocolVersion, Identity = LocalIdentity(), PageEncoding = PageEncoding.ZeroRuns, PageCacheBytes = 64L << 20 }),
        ("welcome", FrameType.Welcome, new WelcomeMessage { ProtocolVersion = Handshake.ProtocolVersion, Identity = LocalIdentity(), BufferCapacityBytes = 64L << 20, LastCommittedEpoch = 1, LastCommittedSequence = 6, Role = NodeRole.Secondary, PageEncoding = PageEncoding.ZeroRuns, PageCacheBytes = 32L << 20 }),
        ("ack", FrameType.Ack, new AckMessage { Epoch = 2 }),
        ("ack-timings", FrameType.Ack, new AckMessage { Epoch = 3, Timings = new AckTimings { QueueMicroseconds = 10, JournalWriteMicroseconds = 200, JournalFlushMicroseconds = 1500, AckMicroseconds = 5, BufferPeakBytes = 1 << 20, AppliedEpoch = 2, ApplyMicroseconds = 900 } }),
        ("checkpoint", FrameType.Checkpoint, Checkpoint(resync: false)),
        ("checkpoint-resync", FrameType.Checkpoint, Checkpoint(resync: true)),
        ("checkpoint-zero-runs", FrameType.Checkpoint, EncodedCheckpoint(PageEncoding.ZeroRuns)),
        ("checkpoint-lz4", FrameType.Checkpoint, EncodedCheckpoint(PageEncoding.Lz4)),
        ("credit", FrameType.Credit, new CreditMessage { Bytes = 65536 }),
        ("heartbeat", FrameType.Heartbeat, new HeartbeatMessage { Epoch = 4, Probe = 123_456_789, PromiseMilliseconds = 2000 }),
        ("reject", FrameType.Reject, new RejectMessage { Epoch = 5, Reason = "digest mismatch" }),
        ("error", FrameType.Error, new ErrorMessage { Reason = "promoted", Fenced = true }),
        ("resync-start", FrameType.ResyncStart, new ResyncStartMessage { BaseEpoch = 1, FirstEpoch = 9, FirstSequence = 100, Regions = 3, Bytes = 12288 }),
        ("switchover", FrameType.Switchover, new SwitchoverMessage { Epoch = 7 }),
        ("verify-result", FrameType.VerifyResult, new VerifyResultMessage { Epoch = 2, Sequence = 13, Offset = 65536, Length = 131072, Diverged = [131072] }),
        ("witness-vote", FrameType.WitnessRequest, new Protocol.Witness.WitnessRequestMessage { ProtocolVersion = Handshake.ProtocolVersion, PairId = "pair-1", Role = NodeRole.Secondary, Kind = Protocol.Witness.WitnessRequestKind.Vote, Generations = Protocol.Generations.DataGenerations.None.Begin(new Protocol.Generations.GenerationMark { Id = 0x1111 }), Proposed = new Protocol.Generations.GenerationMark { Id = 0x2222, Cause = Protocol.Generations.GenerationCause.Promotion }, SentAt = 99 }),
        ("witness-answer", FrameType.WitnessAnswer, new Protocol.Witness.WitnessAnswerMessage { Kind = Protocol.Witness.WitnessRequestKind.Lease, Verdict = Protocol.Witness.WitnessVerdict.Superseded, SentAt = 99, Reason = "taken over" }),
    ];

    private static byte[] Serialize(object message) =>
        MessagePackSerializer.Serialize(message.GetType(), message, ControlCodec.Options);

    private static Dictionary<string, byte[]> ControlBodies() => ControlMessages().ToDictionary(m => m.Name, m => Serialize(m.Message));

    private static Dictionary<string, byte[]> FrameStreams()
    {
        var files = new Dictionary<string, byte[]>();
        Dictionary<string, MirrorRecord> mirrors = MirrorRecords();
        IReadOnlyList<(string Name, FrameType Type, object Message)> control = ControlMessages();

        // One file per frame kind, each the first frame of its connection.
        foreach ((string name, FrameType type, object message) in control)
        {
            files[$"gen-{name}.bin"] = Stream(w => w.Control(type, message));
        }

        foreach ((string name, MirrorRecord record) in mirrors)
        {
            files[$"gen-mirror-{name}.bin"] = Stream(w => w.Mirror(record));
        }

        // The two directions of a short session.
        files["gen-session-to-secondary.bin"] = Stream(w =>
        {
            w.Control(FrameType.Hello, control.Single(c => c.Name == "hello").Message);
            w.Control(FrameType.ResyncStart, control.Single(c => c.Name == "resync-start").Message);
            foreach (MirrorRecord record in mirrors.Values)
            {
                w.Mirror(record);
            }

            w.Control(FrameType.Checkpoint, control.Single(c => c.Name == "checkpoint").Message);
            w.Control(FrameType.Heartbeat, control.Single(c => c.Name == "heartbeat").Message);
            w.Control(FrameType.Switchover, control.Single(c => c.Name == "switchover").Message);
            w.Control(FrameType.Error, control.Single(c => c.Name == "error").Message);
        });
        files["gen-session-to-primary.bin"] = Stream(w =>
        {
            foreach (string name in ToPrimary)
            {
                (_, FrameType type, object message) = control.Single(c => c.Name == name);
                w.Control(type, message);
            }
        });
        return files;
    }

    private static byte[] Stream(Action<StreamWriter> write)
    {
        var writer = new StreamWriter();
        write(writer);
        return writer.Output.WrittenSpan.ToArray();
    }

    private sealed class StreamWriter
    {
        private readonly FrameWriter _writer = new();

        public ArrayBufferWriter<byte> Output { get; } = new();

        public void Control(FrameType type, object message)
        {
            switch (message)
            {
                case HelloMessage m: _writer.WriteControl(Output, type, m); break;
                case WelcomeMessage m: _writer.WriteControl(Output, type, m); break;
                case AckMessage m: _writer.WriteControl(Output, type, m); break;
                case CheckpointMessage m: _writer.WriteControl(Output, type, m); break;
                case CreditMessage m: _writer.WriteControl(Output, type, m); break;
                case HeartbeatMessage m: _writer.WriteControl(Output, type, m); break;
                case RejectMessage m: _writer.WriteControl(Output, type, m); break;
                case ErrorMessage m: _writer.WriteControl(Output, type, m); break;
                case ResyncStartMessage m: _writer.WriteControl(Output, type, m); break;
                case VerifyResultMessage m: _writer.WriteControl(Output, type, m); break;
                case SwitchoverMessage m: _writer.WriteControl(Output, type, m); break;
                case Protocol.Witness.WitnessRequestMessage m: _writer.WriteControl(Output, type, m); break;
                case Protocol.Witness.WitnessAnswerMessage m: _writer.WriteControl(Output, type, m); break;
                default: throw new ArgumentException($"no frame for {message.GetType()}", nameof(message));
            }
        }

        public void Mirror(in MirrorRecord record) => _writer.WriteMirror(Output, record);
    }

    private static Dictionary<string, byte[]> HandshakeBodies()
    {
        PairIdentity With(Action<PairIdentity> change)
        {
            PairIdentity identity = LocalIdentity();
            change(identity);
            return identity;
        }

        // Fixed ids and times: the corpus must come out the same on every run.
        static Protocol.Generations.DataGenerations Lineage(params long[] newestFirst) => new()
        {
            Current = new() { Id = newestFirst[0], SinceUnixMilliseconds = 1_700_000_000_000 + newestFirst[0], Cause = Protocol.Generations.GenerationCause.UnprotectedWriting },
            History = newestFirst.Skip(1).Select(id => new Protocol.Generations.GenerationMark { Id = id, SinceUnixMilliseconds = 1_700_000_000_000 + id, Cause = Protocol.Generations.GenerationCause.Created }).ToList(),
        };

        var hellos = new Dictionary<string, HelloMessage>
        {
            ["same"] = new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = LocalIdentity(), Generations = Lineage(3, 2, 1) },
            ["blank"] = new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = LocalIdentity(), Generations = Protocol.Generations.DataGenerations.None },
            ["empty-id"] = new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = LocalIdentity(), Generations = new() { Current = new() } },
            ["other-pair"] = new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = With(i => i.PairId = "pair-b") },
            ["old-version"] = new() { ProtocolVersion = 2, Identity = LocalIdentity() },
        };
        var welcomes = new Dictionary<string, WelcomeMessage>
        {
            ["same"] = new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = LocalIdentity(), BufferCapacityBytes = 1 << 26, LastCommittedEpoch = 4, LastCommittedSequence = 40, Role = NodeRole.Secondary, Generations = Lineage(3, 2, 1) },
            ["promoted"] = new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = LocalIdentity(), Role = NodeRole.Primary, Generations = Lineage(4, 3, 2, 1) },
            ["behind"] = new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = LocalIdentity(), Role = NodeRole.Secondary, Generations = Lineage(2, 1) },
            ["no-role"] = new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = LocalIdentity(), Role = NodeRole.Unknown },
            ["other-geometry"] = new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = With(i => i.BlockSize = 512), Role = NodeRole.Secondary },
            ["former-primary"] = new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = LocalIdentity(), Role = NodeRole.Secondary, Generations = Lineage(2, 1), FormerPrimaryWrites = FormerPrimaryWrites.From(2, 9, [(0, 65536), (1 << 20, 4096)], LocalIdentity().ImageBytes) },
            ["former-primary-unknown"] = new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = LocalIdentity(), Role = NodeRole.Secondary, Generations = Lineage(2, 1), FormerPrimaryWrites = FormerPrimaryWrites.Unknown("no dirty log") },
        };
        return hellos.ToDictionary(h => $"gen-hello-{h.Key}.bin", h => Serialize(h.Value))
            .Concat(welcomes.ToDictionary(w => $"gen-welcome-{w.Key}.bin", w => Serialize(w.Value)))
            .ToDictionary(p => p.Key, p => p.Value);
    }

    private static Dictionary<string, byte[]> NegotiationStreams()
    {
        byte[] flags = NbdWire.ClientFlags(NbdWire.FixedNewstyle | NbdWire.NoZeroes);
        byte[] disconnect = NbdWire.Request(0, NbdWire.CmdDisconnect, 99, 0, 0);
        return new Dictionary<string, byte[]>
        {
            ["gen-go-default.bin"] = [.. flags, .. NbdWire.Option(NbdWire.OptGo, NbdWire.InfoData("")), .. disconnect],
            ["gen-info-then-go.bin"] =
            [
                .. flags,
                .. NbdWire.Option(NbdWire.OptInfo, NbdWire.InfoData("disk", NbdWire.InfoName, NbdWire.InfoDescription, NbdWire.InfoBlockSize)),
                .. NbdWire.Option(NbdWire.OptGo, NbdWire.InfoData("disk", NbdWire.InfoBlockSize)),
                .. NbdWire.Request(0, NbdWire.CmdRead, 1, 0, 512),
                .. disconnect,
            ],
            ["gen-list-refused-abort.bin"] =
            [
                .. flags,
                .. NbdWire.Option(NbdWire.OptList, []),
                .. NbdWire.Option(NbdWire.OptStructuredReply, []),
                .. NbdWire.Option(NbdWire.OptSetMetaContext, [0, 0, 0, 4, (byte)'d', (byte)'i', (byte)'s', (byte)'k', 0, 0, 0, 0]),
                .. NbdWire.Option(NbdWire.OptStartTls, []),
                .. NbdWire.Option(NbdWire.OptAbort, []),
            ],
            ["gen-unknown-name-then-go.bin"] =
            [
                .. flags,
                .. NbdWire.Option(NbdWire.OptGo, NbdWire.InfoData("other", NbdWire.InfoExport)),
                .. NbdWire.Option(NbdWire.OptInfo, NbdWire.InfoData("", 0x77)),
                .. NbdWire.Option(0x1234, [1, 2, 3]),
                .. NbdWire.Option(NbdWire.OptGo, NbdWire.InfoData("disk")),
                .. disconnect,
            ],
            ["gen-export-name.bin"] = [.. flags, .. NbdWire.Option(NbdWire.OptExportName, "disk"u8), .. NbdWire.Request(0, NbdWire.CmdFlush, 7, 0, 0), .. disconnect],
            ["gen-structured-meta-context-go.bin"] =
            [
                .. flags,
                .. NbdWire.Option(NbdWire.OptListMetaContext, NbdWire.MetaContextData("")), // refused: structured replies first
                .. NbdWire.Option(NbdWire.OptStructuredReply, []),
                .. NbdWire.Option(NbdWire.OptListMetaContext, NbdWire.MetaContextData("disk", "base:")),
                .. NbdWire.Option(NbdWire.OptSetMetaContext, NbdWire.MetaContextData("", "x-other:thing", "base:allocation")),
                .. NbdWire.Option(NbdWire.OptGo, NbdWire.InfoData("disk", NbdWire.InfoBlockSize)),
                .. NbdWire.Request(0, NbdWire.CmdBlockStatus, 1, 0, 1 << 16),
                .. NbdWire.Request(0, NbdWire.CmdRead, 2, 0, 16384),
                .. disconnect,
            ],
            ["gen-structured-no-context.bin"] =
            [
                .. flags,
                .. NbdWire.Option(NbdWire.OptStructuredReply, [1]), // refused: takes no data
                .. NbdWire.Option(NbdWire.OptStructuredReply, []),
                .. NbdWire.Option(NbdWire.OptSetMetaContext, NbdWire.MetaContextData("disk", "base:allocation")),
                .. NbdWire.Option(NbdWire.OptSetMetaContext, NbdWire.MetaContextData("disk")), // selects nothing
                .. NbdWire.Option(NbdWire.OptExportName, "disk"u8),
                .. NbdWire.Request(0, NbdWire.CmdBlockStatus, 1, 0, 4096), // refused: no context
                .. NbdWire.Request(0, NbdWire.CmdRead, 2, 100, 512), // refused with an error chunk
                .. disconnect,
            ],
            ["gen-export-name-oldstyle-client.bin"] = [.. NbdWire.ClientFlags(0), .. NbdWire.Option(NbdWire.OptExportName, []), .. disconnect],
        };
    }

    private static Dictionary<string, byte[]> TransmissionStreams()
    {
        byte[] disconnect = NbdWire.Request(0, NbdWire.CmdDisconnect, 99, 0, 0);
        return new Dictionary<string, byte[]>
        {
            ["gen-read-write-flush.bin"] =
            [
                .. NbdWire.Request(0, NbdWire.CmdWrite, 1, 4096, 4096, Pattern(4096, 6)),
                .. NbdWire.Request(0, NbdWire.CmdRead, 2, 4096, 4096),
                .. NbdWire.Request(0, NbdWire.CmdFlush, 3, 0, 0),
                .. disconnect,
            ],
            ["gen-every-command.bin"] =
            [
                .. NbdWire.Request(NbdWire.FlagFua, NbdWire.CmdWrite, 10, 0, 512, Pattern(512, 7)),
                .. NbdWire.Request(NbdWire.FlagFua, NbdWire.CmdWriteZeroes, 11, 8192, 8192),
                .. NbdWire.Request(NbdWire.FlagNoHole, NbdWire.CmdWriteZeroes, 12, 1 << 16, 1 << 18),
                .. NbdWire.Request(0, NbdWire.CmdTrim, 13, 1 << 19, 1 << 17),
                .. NbdWire.Request(NbdWire.FlagFua, NbdWire.CmdTrim, 14, 0, 4096),
                .. NbdWire.Request(NbdWire.FlagFua, NbdWire.CmdRead, 15, (1 << 20) - 512, 512),
                .. NbdWire.Request(0, NbdWire.CmdFlush, 16, 0, 0),
                .. disconnect,
            ],
            ["gen-refused.bin"] =
            [
                .. NbdWire.Request(0, NbdWire.CmdCache, 20, 0, 4096),
                .. NbdWire.Request(0, NbdWire.CmdBlockStatus, 21, 0, 4096),
                .. NbdWire.Request(0, NbdWire.CmdRead, 22, 100, 512),
                .. NbdWire.Request(0, NbdWire.CmdRead, 23, 1 << 20, 512),
                .. NbdWire.Request(0, NbdWire.CmdWrite, 24, (1 << 20) - 512, 1024, Pattern(1024, 8)),
                .. NbdWire.Request(0, NbdWire.CmdWrite, 25, 0, (8 << 10) + 512, Pattern((8 << 10) + 512, 9)),
                .. NbdWire.Request(0, NbdWire.CmdRead, 26, 0, 0),
                .. NbdWire.Request(4, NbdWire.CmdRead, 27, 0, 512),
                .. disconnect,
            ],
            ["gen-new-commands.bin"] =
            [
                .. NbdWire.Request(0, NbdWire.CmdWrite, 40, 0, 16384, Pattern(16384, 11)),
                .. NbdWire.Request(NbdWire.FlagFastZero, NbdWire.CmdWriteZeroes, 41, 0, 4096),
                .. NbdWire.Request(0, NbdWire.CmdWriteZeroes, 42, 4096, 8192),
                .. NbdWire.Request(0, NbdWire.CmdRead, 43, 0, 16384),
                .. NbdWire.Request(NbdWire.FlagDontFragment, NbdWire.CmdRead, 44, 0, 16384),
                .. NbdWire.Request(0, NbdWire.CmdCache, 45, 0, 1 << 20),
                .. NbdWire.Request(NbdWire.FlagRequestOne, NbdWire.CmdBlockStatus, 46, 4096, 1 << 16),
                .. NbdWire.Request(0, NbdWire.CmdBlockStatus, 47, 0, 1 << 20),
                .. NbdWire.Request(0, NbdWire.CmdRead, 48, 0, 16384 + 512),
                .. disconnect,
            ],
            ["gen-pipelined-reads.bin"] = [.. Enumerable.Range(0, 12).SelectMany(i => NbdWire.Request(0, NbdWire.CmdRead, (ulong)(100 + i), (ulong)i * 8192, 8192)), .. disconnect],
            ["gen-no-disconnect.bin"] = [.. NbdWire.Request(0, NbdWire.CmdWrite, 30, 512, 512, Pattern(512, 10)), .. NbdWire.Request(0, NbdWire.CmdRead, 31, 0, 1024)],
        };
    }
}
