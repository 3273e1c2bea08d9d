using NSubstitute;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Sim.Faults;
using Replicator.Sim.Network;
using Replicator.Sim.Nodes;
using Replicator.Sim.World;

namespace Replicator.Sim.Tests;

public class NetworkTests
{
    private readonly SimScheduler _clock = new();
    private readonly List<string> _violations = new();

    [Fact]
    public void A_corrupted_frame_is_rejected_and_closes_the_connection_before_anything_of_it_arrives()
    {
        SimNetwork network = Network(new NetworkProfile { Mode = LinkMode.Stream });
        ILinkEndpoint secondary = Substitute.For<ILinkEndpoint>();
        secondary.IsReachable.Returns(true);
        network.Secondary = secondary;
        SimConnection connection = network.Connect();
        var sender = new LinkSender(network, connection, toSecondary: true);

        // A flip in the length field makes the receiver wait for more bytes: the frames behind it
        // complete the bad frame, whose checksum then fails.
        network.CorruptNext(toSecondary: true);
        for (int i = 0; i < 40; i++)
        {
            sender.Control(FrameType.Heartbeat, new HeartbeatMessage { Epoch = i });
        }

        _clock.RunUntil(1_000_000);

        secondary.DidNotReceive().OnFrame(Arg.Any<SimConnection>(), Arg.Any<Frame>());
        secondary.Received(1).OnClosed(connection, Arg.Any<string>());
        Assert.False(connection.IsOpen);
        Assert.Equal(1, network.FramesRejected);
        Assert.Empty(_violations);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Every_frame_arrives_once_despite_loss_and_duplication_and_a_stream_keeps_order(bool stream)
    {
        LinkMode mode = stream ? LinkMode.Stream : LinkMode.Datagram;
        SimNetwork network = Network(new NetworkProfile { Mode = mode, LatencyUs = 20, JitterUs = 2_000, LossRate = 0.3, DuplicateRate = 0.3 });
        var secondary = new RecordingEndpoint();
        network.Secondary = secondary;
        SimConnection connection = network.Connect();
        var sender = new LinkSender(network, connection, toSecondary: true);

        for (int i = 0; i < 200; i++)
        {
            sender.Control(FrameType.Heartbeat, new HeartbeatMessage { Epoch = i });
        }

        _clock.RunUntil(10_000_000);

        Assert.Equal(Enumerable.Range(0, 200).Select(i => (long)i), secondary.Epochs.Order());
        Assert.True(network.PacketsLost > 0);
        Assert.True(network.PacketsDuplicated > 0);
        bool inOrder = secondary.Epochs.SequenceEqual(secondary.Epochs.Order());
        Assert.Equal(mode == LinkMode.Stream, inOrder);
        Assert.True(connection.IsOpen);
    }

    [Fact]
    public void A_partition_holds_frames_until_it_heals_then_they_arrive()
    {
        SimNetwork network = Network(new NetworkProfile { Mode = LinkMode.Stream, LatencyUs = 50, JitterUs = 0 });
        var secondary = new RecordingEndpoint(_clock);
        network.Secondary = secondary;
        SimConnection connection = network.Connect();
        network.Partition(0, 10_000, PartitionDirection.ToSecondary);
        network.Partition(5_000, 30_000, PartitionDirection.BothWays);
        var sender = new LinkSender(network, connection, toSecondary: true);

        sender.Control(FrameType.Heartbeat, new HeartbeatMessage { Epoch = 1 });
        _clock.RunUntil(1_000_000);

        // Held by the first partition until 10 ms, when the second (from 5 ms) still holds it until 30 ms.
        Assert.Equal([30_050L], secondary.ArrivalTimes);
    }

    [Fact]
    public void A_reset_loses_what_is_still_on_the_wire_and_both_sides_hear_of_it()
    {
        SimNetwork network = Network(new NetworkProfile { Mode = LinkMode.Stream, LatencyUs = 1_000, JitterUs = 0 });
        var primary = new RecordingEndpoint();
        var secondary = new RecordingEndpoint();
        network.Primary = primary;
        network.Secondary = secondary;
        SimConnection connection = network.Connect();
        var sender = new LinkSender(network, connection, toSecondary: true);

        sender.Control(FrameType.Heartbeat, new HeartbeatMessage { Epoch = 1 });
        _clock.RunUntil(500);
        network.Close(connection, "reset");
        _clock.RunUntil(1_000_000);

        Assert.Empty(secondary.Epochs);
        Assert.Equal(1, primary.Closed);
        Assert.Equal(1, secondary.Closed);
    }

    private SimNetwork Network(NetworkProfile profile) =>
        new(_clock, profile, new Random(5), new Trace(_clock, keepLines: false), _violations.Add, maxBodyLength: 64);

    private sealed class RecordingEndpoint(SimScheduler? clock = null) : ILinkEndpoint
    {
        public List<long> Epochs { get; } = new();

        public List<long> ArrivalTimes { get; } = new();

        public int Closed { get; private set; }

        public bool IsReachable => true;

        public void OnFrame(SimConnection connection, in Frame frame)
        {
            Epochs.Add(ControlCodec.Decode<HeartbeatMessage>(frame, FrameType.Heartbeat).Epoch);
            ArrivalTimes.Add(clock?.Now ?? 0);
        }

        public void OnClosed(SimConnection connection, string reason) => Closed++;
    }
}
