using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Vm;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.InMemory;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Tests.Support;

/// <summary>A primary host fed by hand: links are numbered here, time moves only when a test advances it.</summary>
internal sealed class PrimaryHarness
{
    public const long ImageBytes = 1 << 20;
    public const int MaxRequestBytes = 64 * 1024;
    public static readonly TimeSpan ReconnectDelay = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(2);

    private long _nextLink;
    private int _pumped;

    /// <param name="directory">The state directory of a primary that ran before (a restart); a new one otherwise.</param>
    public PrimaryHarness(Func<PrimaryHostOptions, PrimaryHostOptions>? configure = null, MemoryStorageDirectory? directory = null)
    {
        Directory = directory ?? new MemoryStorageDirectory();
        Options = new PrimaryHostOptions
        {
            PairId = "pair-1",
            ImageBytes = ImageBytes,
            MaxRequestBytes = MaxRequestBytes,
            Peer = "secondary:7000",
            HeartbeatTimeout = HeartbeatTimeout,
            ReconnectDelay = ReconnectDelay,
            ReconnectMaxDelay = ReconnectDelay * 8,

            // Tests of other matters see a write issued at once; the dirty log's own tests turn it on.
            ActivityLogExtents = 0,
        };
        Options = configure?.Invoke(Options) ?? Options;
        Host = new PrimaryHost(Options, Directory, Actions, NullLogger.Instance, Time);
    }

    public PrimaryHostOptions Options { get; }

    public FakeTimeProvider Time { get; } = new();

    public RecordingPrimaryActions Actions { get; } = new();

    public MemoryStorageDirectory Directory { get; }

    public PrimaryHost Host { get; }

    public static PrimaryInput Input(WelcomeMessage welcome) => new(PrimaryInputKind.Welcome, FrameType.Welcome, Welcome: welcome);

    public static PrimaryInput Ack(long epoch) => new(PrimaryInputKind.Ack, FrameType.Ack, Value: epoch);

    public static PrimaryInput Error(string reason, bool fenced) => new(PrimaryInputKind.PeerError, FrameType.Error, Reason: reason, Fenced: fenced);

    /// <summary>A secondary's welcome; by default it holds this primary's data generations (the same data).</summary>
    public WelcomeMessage Welcome(long epoch = 0, long sequence = 0, string? pairId = null, NodeRole role = NodeRole.Secondary, DataGenerations? generations = null, long bufferBytes = 1 << 20) => new()
    {
        ProtocolVersion = Handshake.ProtocolVersion,
        Identity = new PairIdentity { PairId = pairId ?? Options.PairId, ImageBytes = ImageBytes, BlockSize = Options.BlockSize, MaxRequestBytes = MaxRequestBytes },
        BufferCapacityBytes = bufferBytes,
        LastCommittedEpoch = epoch,
        LastCommittedSequence = sequence,
        Role = role,
        Generations = generations ?? Host.Generations,
    };

    /// <summary>What a secondary holds once it was promoted from this primary's data and wrote on.</summary>
    public DataGenerations AheadGenerations() => Host.Generations.Begin(GenerationMark.Draw(GenerationCause.Promotion, Time.GetUtcNow()));

    /// <summary>The shell's answer to a Connect: a new link.</summary>
    public LinkId Connect()
    {
        var link = new LinkId(++_nextLink);
        Host.OnLinkConnected(link);
        return link;
    }

    /// <summary>Starts and connects to a fresh secondary (with a buffer of <paramref name="bufferBytes"/>) that welcomes this primary.</summary>
    public LinkId StartConnected(long bufferBytes = 1 << 20)
    {
        Host.Start();
        LinkId link = Connect();
        Host.OnFrame(link, Input(Welcome(bufferBytes: bufferBytes)));
        return link;
    }

    /// <summary>Starts connected, then the link closes: the host is degraded and its first attempt scheduled.</summary>
    public void StartConnectedThenLose() => Host.OnLinkClosed(StartConnected(), "cable pulled");

    /// <summary>The reconnect delay ran out and the secondary, holding what the primary last saw acknowledged, welcomes it.</summary>
    public LinkId Reconnect()
    {
        Host.OnReconnectDue();
        LinkId link = Connect();
        Host.OnFrame(link, Input(Welcome(Host.Engine!.LastAcknowledgedEpoch)));
        return link;
    }

    /// <summary>A guest write of one block at <paramref name="offset"/>.</summary>
    public void Write(long requestId, long offset) => Host.Submit(requestId, BlockRequest.Write(offset, 4096), new byte[4096]);

    /// <summary>
    /// Plays the world's part for everything asked since the last pump: local I/O and resync reads
    /// complete, captures are taken, and records and checkpoints sent on <paramref name="secondary"/> have their credit returned and are acknowledged.
    /// </summary>
    public void Pump(LinkId secondary)
    {
        for (; _pumped < Actions.Calls.Count; _pumped++)
        {
            switch (Actions.Calls[_pumped])
            {
                case RecordingPrimaryActions.Issued issued:
                    Host.OnLocalCompleted(issued.RequestId, issued.Request, null);
                    break;
                case DirtyLogOperation operation when HoldDirtyLog:
                    HeldDirtyLog.Add(operation);
                    break;
                case DirtyLogOperation operation:
                    RunDirtyLog(operation);
                    break;
                case RecordingPrimaryActions.ResyncRead read:
                    Host.OnResyncReadCompleted(read.ReadId, read.Offset, new byte[read.Length], null);
                    break;
                case RecordingPrimaryActions.Mirrored mirrored when mirrored.Link == secondary:
                    // The secondary frees the record's room at once (as if applied).
                    Host.OnFrame(secondary, new PrimaryInput(PrimaryInputKind.Credit, FrameType.Credit, Value: mirrored.Request.PayloadLength + MirrorRecord.RecordOverheadBytes));
                    break;
                case RecordingPrimaryActions.CaptureAsked capture:
                    Host.OnVmCaptured(Capture?.Invoke(capture.Epoch) ?? new VmSnapshot(capture.Epoch, [], []));
                    break;
                case RecordingPrimaryActions.Sent { Type: FrameType.Checkpoint, Message: CheckpointMessage checkpoint } sent when sent.Link == secondary:
                    Host.OnFrame(secondary, Ack(checkpoint.Epoch));
                    break;
            }
        }
    }

    /// <summary>What <see cref="Pump"/> answers a capture with (by default a snapshot with no pages).</summary>
    public Func<long, VmSnapshot>? Capture { get; set; }

    /// <summary>While set, <see cref="Pump"/> keeps the dirty log's operations in <see cref="HeldDirtyLog"/> instead of running them (a slow log device).</summary>
    public bool HoldDirtyLog { get; set; }

    public List<DirtyLogOperation> HeldDirtyLog { get; } = new();

    /// <summary>The shell's part of a dirty-log operation: its log steps on the state directory (the image is not modelled), then done.</summary>
    public void RunDirtyLog(DirtyLogOperation operation)
    {
        foreach (DirtyLogStep step in operation.Steps)
        {
            if (step.Kind != DirtyLogStepKind.FlushImage)
            {
                operation.RunOnLog(step);
            }
        }

        Host.OnDirtyLogWritten(operation.Id, null);
    }

    /// <summary>Skips what was asked so far: the next <see cref="Pump"/> answers only what follows.</summary>
    public void Forget()
    {
        Actions.Clear();
        _pumped = 0;
    }
}
