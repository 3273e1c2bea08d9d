using System.Runtime.CompilerServices;
using Replicator.Protocol.Framing;

namespace Replicator.Benchmarks.Support;

/// <summary>
/// Rewinds a <see cref="FrameReader"/>'s expected link sequence, so one pre-encoded frame can be
/// decoded again and again by the same reader. Without it every decode would need a fresh reader
/// (and its allocation) or an ever-growing stream of frames.
/// </summary>
internal static class FrameReaderRewind
{
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_expectedSequence")]
    public static extern ref uint ExpectedSequence(FrameReader reader);
}
