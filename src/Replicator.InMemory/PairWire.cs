using System.Buffers;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;

namespace Replicator.InMemory;

/// <summary>
/// One direction between the pair's hosts: the encoded frames and closes of every link, in the order
/// they were sent. One queue for all links, as one network path: a link closed before a new one
/// opened is heard closed first, as it would be over TCP.
/// </summary>
internal sealed class PairWire
{
    private readonly Queue<Packet> _packets = new();
    private readonly ArrayBufferWriter<byte> _encoded = new(4096);

    public int Count => _packets.Count;

    public bool IsEmpty => _packets.Count == 0;

    public void SendControl<T>(PairLink link, FrameWriter writer, FrameType type, T message)
    {
        _encoded.ResetWrittenCount();
        writer.WriteControl(_encoded, type, message);
        _packets.Enqueue(new Packet(link, _encoded.WrittenSpan.ToArray(), null));
    }

    /// <summary>The record is encoded now: a payload lent for the call (a resync read's buffer) is copied here, as a socket would.</summary>
    public void SendMirror(PairLink link, FrameWriter writer, in MirrorRecord record)
    {
        _encoded.ResetWrittenCount();
        writer.WriteMirror(_encoded, record);
        _packets.Enqueue(new Packet(link, _encoded.WrittenSpan.ToArray(), null));
    }

    /// <summary>The sender closed the link: the receiver hears it after everything sent before.</summary>
    public void SendClose(PairLink link, string reason) => _packets.Enqueue(new Packet(link, null, reason));

    public Packet Take() => _packets.Dequeue();

    /// <summary>Everything of <paramref name="link"/> still on the way is lost.</summary>
    public void Drop(PairLink link)
    {
        int count = _packets.Count;
        for (int i = 0; i < count; i++)
        {
            Packet packet = _packets.Dequeue();
            if (packet.Link != link)
            {
                _packets.Enqueue(packet);
            }
        }
    }

    /// <summary>
    /// Cuts the one frame a packet holds with the receiving end's reader, which checks it as the
    /// daemons do (order, checksum, size). Throws <see cref="ProtocolViolationException"/> for a bad frame.
    /// </summary>
    public static Frame Cut(FrameReader reader, byte[] bytes)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        if (!reader.TryRead(ref buffer, out Frame frame) || !buffer.IsEmpty)
        {
            throw new ProtocolViolationException($"a packet of {bytes.Length} bytes does not hold exactly one frame");
        }

        return frame;
    }

    /// <summary>One frame (<see cref="Frame"/> set) or the close of its link (<see cref="CloseReason"/> set).</summary>
    internal readonly record struct Packet(PairLink Link, byte[]? Frame, string? CloseReason);
}
