using System.Buffers;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;
using Replicator.Sim.Network;

namespace Replicator.Sim.Nodes;

/// <summary>One node's sending side of a connection: the daemons' own frame writer, numbering and checksumming every frame.</summary>
internal sealed class LinkSender(SimNetwork network, SimConnection connection, bool toSecondary)
{
    private readonly FrameWriter _writer = new();
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private uint _next;

    public SimConnection Connection => connection;

    public void Mirror(in MirrorRecord record)
    {
        _buffer.ResetWrittenCount();
        _writer.WriteMirror(_buffer, record);
        Send();
    }

    public void Control<T>(FrameType type, T message)
    {
        _buffer.ResetWrittenCount();
        _writer.WriteControl(_buffer, type, message);
        Send();
    }

    private void Send() => network.Send(connection, toSecondary, _buffer.WrittenSpan.ToArray(), _next++);
}
