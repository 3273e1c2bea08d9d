using Replicator.Core.Blocks;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Tests.Support;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using static Replicator.Hosts.Tests.Support.RecordingPrimaryActions;

namespace Replicator.Hosts.Tests;

public sealed class PrimaryHostVerifyTests
{
    [Fact]
    public void A_verify_reports_once_the_secondary_answered_every_record()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        h.Host.Verify(7, repair: false);

        int answered = AnswerVerifies(h, link, diverged: _ => []);

        Verified verified = Assert.Single(h.Actions.Of<Verified>());
        Assert.Equal(7, verified.WaiterId);
        Assert.Equal(PrimaryHarness.ImageBytes, verified.Report.BytesCompared);
        Assert.True(verified.Report.Equal);
        Assert.False(verified.Report.Repaired);
        Assert.Equal(answered, h.Host.Engine!.VerifyRecordsSent);
        Assert.StartsWith("last verify: 1048576 bytes compared, 0 blocks differed", h.Host.VerifyStatus, StringComparison.Ordinal);
    }

    [Fact]
    public void With_repair_the_diverged_regions_are_copied_and_the_report_waits_for_their_acknowledgement()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        h.Host.Verify(7, repair: true);

        AnswerVerifies(h, link, diverged: r => r.Offset == 0 ? [65536] : []);

        Verified verified = Assert.Single(h.Actions.Of<Verified>());
        Assert.Equal(1, verified.Report.BlocksDiverged);
        Assert.Equal([65536L], verified.Report.DivergedOffsets);
        Assert.True(verified.Report.Repaired);
        Mirrored copy = Assert.Single(h.Actions.Of<Mirrored>(), m => m.Request.Op == BlockOp.Write);
        Assert.Equal(BlockRequest.Write(65536, 65536), copy.Request);
        Assert.True(verified.Report.Epoch >= copy.Epoch);
    }

    [Fact]
    public void A_verify_whose_link_is_lost_ends_without_a_verdict_and_a_second_one_is_refused_meanwhile()
    {
        var h = new PrimaryHarness();
        LinkId link = h.StartConnected();
        h.Host.Verify(7, repair: false);
        h.Host.Verify(8, repair: false);
        Assert.Equal("a verify is already running", Assert.Single(h.Actions.Of<VerifyFailure>()).Reason);

        h.Host.OnLinkClosed(link, "cable pulled");

        VerifyFailure failed = h.Actions.Of<VerifyFailure>().Last();
        Assert.Equal(7, failed.WaiterId);
        Assert.Contains("replication is degraded: cable pulled", failed.Reason, StringComparison.Ordinal);
        Assert.Empty(h.Actions.Of<Verified>());
    }

    /// <summary>Plays the secondary: every verify record sent is answered, naming what <paramref name="diverged"/> says.</summary>
    private static int AnswerVerifies(PrimaryHarness h, LinkId link, Func<BlockRequest, long[]> diverged)
    {
        int answered = 0;
        for (int round = 0; round < 100 && !h.Actions.Of<Verified>().Any(); round++)
        {
            h.Pump(link);
            foreach (Mirrored verify in h.Actions.Of<Mirrored>().Where(m => m.Request.Op == BlockOp.Verify).Skip(answered).ToList())
            {
                answered++;
                h.Host.OnFrame(link, new PrimaryInput(PrimaryInputKind.VerifyResult, FrameType.VerifyResult, Verify: new VerifyResultMessage
                {
                    Epoch = verify.Epoch, Sequence = verify.Sequence, Offset = verify.Request.Offset, Length = verify.Request.Length, Diverged = diverged(verify.Request),
                }));
            }
        }

        return answered;
    }
}
