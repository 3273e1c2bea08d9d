using NSubstitute;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;

namespace Replicator.Core.Tests.Support;

/// <summary>Reads what a substituted <see cref="IPrimaryActions"/> was asked, in order.</summary>
internal static class PrimaryCalls
{
    public static List<MirrorRecord> Mirrors(this IPrimaryActions actions) =>
        actions.ReceivedCalls().Where(c => c.GetMethodInfo().Name == nameof(IPrimaryActions.SendMirror)).Select(c => (MirrorRecord)c.GetArguments()[0]!).ToList();

    public static List<CheckpointRecord> Checkpoints(this IPrimaryActions actions) =>
        actions.ReceivedCalls().Where(c => c.GetMethodInfo().Name == nameof(IPrimaryActions.SendCheckpoint)).Select(c => (CheckpointRecord)c.GetArguments()[0]!).ToList();

    public static List<long> Issued(this IPrimaryActions actions) =>
        actions.ReceivedCalls().Where(c => c.GetMethodInfo().Name == nameof(IPrimaryActions.IssueLocal)).Select(c => (long)c.GetArguments()[0]!).ToList();

    /// <summary>The names of the calls made, in order, e.g. "PauseGuest", "CaptureVmState".</summary>
    public static List<string> Names(this IPrimaryActions actions) =>
        actions.ReceivedCalls().Select(c => c.GetMethodInfo().Name).ToList();
}
