using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Witness;

namespace Replicator.Sim.Nodes;

/// <summary>The witness's link, heard by the incarnation that opened it (and held while the process is paused).</summary>
internal sealed partial class PrimaryShell : IWitnessClient
{
    // Writes answered with an error for a fence, not a disk error: they may be on the disk.
    private bool _guestUnsureOfDisk;

    // The data generations this primary acknowledged guest requests (or released output) in.
    private readonly HashSet<long> _acknowledgedIn = new();

    /// <summary>The generations this primary acknowledged anything in, over all its incarnations.</summary>
    public IReadOnlyCollection<long> AcknowledgedIn => _acknowledgedIn;

    /// <summary>
    /// I6 at every acknowledgement: once the witness voted another node in, the old primary has no
    /// majority it could hold — its lease ran out before the vote — so it acknowledges nothing more.
    /// </summary>
    private void NoteAcknowledged(string what)
    {
        if (Host.Generations.Current is { } current)
        {
            _acknowledgedIn.Add(current.Id);
        }

        if (_world.Witness?.FirstVoteAt is { } votedAt && _world.Clock.Now >= votedAt)
        {
            _world.Checker.Fail($"I6: the old primary {what} {(_world.Clock.Now - votedAt) / 1000.0:F3} ms after the witness voted its secondary in");
        }
    }

    public void OnWitnessConnected(int incarnation, LinkId link) => OnHost(incarnation, () => Host.OnWitnessConnected(link));

    public void OnWitnessConnectFailed(int incarnation, string reason) => OnHost(incarnation, () => Host.OnWitnessConnectFailed(reason));

    public void OnWitnessAnswer(int incarnation, LinkId link, WitnessAnswerMessage answer) =>
        OnHost(incarnation, () => Host.OnFrame(link, new PrimaryInput(PrimaryInputKind.WitnessAnswer, FrameType.WitnessAnswer, WitnessAnswer: answer)));

    public void OnWitnessClosed(int incarnation, LinkId link, string reason) => OnHost(incarnation, () => Host.OnLinkClosed(link, reason));
}
