using Replicator.Core.Epochs;
using Replicator.Core.Vm;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Secondary;
using Replicator.Hosts.Tests.Support;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;
using static Replicator.Hosts.Tests.Support.RecordingPrimaryActions;

namespace Replicator.Hosts.Tests;

/// <summary>The hosts' part in encoded pages: the terms the handshake settles, a fresh encoder and decoder per link, and what does not decode.</summary>
public sealed class PageEncodingHostTests
{
    private static SecondaryInput Hello(PageTerms offered) =>
        new(SecondaryInputKind.Hello, Hello: new HelloMessage
        {
            ProtocolVersion = Handshake.ProtocolVersion,
            Identity = SecondaryHarness.Identity(),
            Generations = SecondaryHarness.PrimaryGenerations,
            PageEncoding = offered.Encoding,
            PageCacheBytes = offered.CacheBytes,
        });

    private static LinkId Connect(SecondaryHarness h, PageTerms offered)
    {
        var link = new LinkId(77);
        h.Host.OnLinkConnected(link, "peer 77");
        h.Host.OnInput(link, Hello(offered));
        h.RunStorage();
        return link;
    }

    /// <summary>Epoch <paramref name="epoch"/>, no records, one RAM page, its checkpoint encoded by <paramref name="encoder"/>.</summary>
    private static SecondaryInput EncodedCheckpoint(CheckpointPageEncoder encoder, long epoch)
    {
        byte[] page = new byte[4096];
        page[epoch % 4096] = (byte)epoch;
        var snapshot = new VmSnapshot(epoch, [], [new VmPage(0, page)]);
        var record = new CheckpointRecord(epoch, 1, 0, default(EpochDigest).Value, snapshot, snapshot.ComputeDigest());
        return SecondaryHarness.Checkpoint(CheckpointMessage.From(record, encoder));
    }

    [Fact]
    public void The_welcome_answers_the_primary_s_encoding_with_the_smaller_cache()
    {
        var h = new SecondaryHarness(configure: o => o with { PageTerms = new PageTerms(PageEncoding.ZeroRuns, 2 << 20) });

        LinkId link = Connect(h, new PageTerms(PageEncoding.Lz4, 8 << 20));

        WelcomeMessage welcome = Assert.Single(h.SentOf<WelcomeMessage>(link));
        Assert.Equal(new PageTerms(PageEncoding.Lz4, 2 << 20), welcome.PageTerms);
    }

    [Fact]
    public void Encoded_checkpoints_on_the_agreed_link_are_decoded_and_commit()
    {
        var h = new SecondaryHarness();
        LinkId link = Connect(h, PageTerms.Default);
        var encoder = new CheckpointPageEncoder(PageEncoding.ZeroRuns, PageTerms.DefaultCacheBytes);

        for (long epoch = 1; epoch <= 3; epoch++)
        {
            h.Host.OnInput(link, EncodedCheckpoint(encoder, epoch));
            h.RunStorage();
        }

        Assert.Equal(3, h.Host.Engine!.LastCommittedEpoch);
        Assert.Equal(2, encoder.PagesAsDifference);
        Assert.Equal(0, h.Host.ProtocolViolations);
    }

    [Fact]
    public void An_encoded_checkpoint_on_a_link_that_agreed_on_whole_pages_closes_the_link_and_commits_nothing()
    {
        var h = new SecondaryHarness(configure: o => o with { PageTerms = PageTerms.Whole });
        LinkId link = Connect(h, PageTerms.Default);

        h.Host.OnInput(link, EncodedCheckpoint(new CheckpointPageEncoder(PageEncoding.ZeroRuns, 1 << 20), 1));
        h.RunStorage();

        Assert.Equal(PageTerms.Whole, Assert.Single(h.SentOf<WelcomeMessage>(link)).PageTerms);
        Assert.Contains("pages encoded as ZeroRuns on a link that agreed on None", Assert.Single(h.Closed).Reason);
        Assert.Equal(1, h.Host.ProtocolViolations);
        Assert.Equal(0, h.Host.Engine!.LastCommittedEpoch);
    }

    [Fact]
    public void Whole_pages_on_a_link_that_agreed_on_an_encoding_close_the_link_too()
    {
        var h = new SecondaryHarness();
        LinkId link = Connect(h, PageTerms.Default);

        h.SendEpoch(link, 1, 1);

        Assert.Contains("pages encoded as None on a link that agreed on ZeroRuns", Assert.Single(h.Closed).Reason);
        Assert.Equal(1, h.Host.ProtocolViolations);
    }

    [Fact]
    public void The_primary_encodes_with_the_terms_of_each_welcome_afresh()
    {
        var h = new PrimaryHarness(o => o with { PageTerms = new PageTerms(PageEncoding.ZeroRuns, 1 << 20) });
        h.Capture = epoch =>
        {
            byte[] page = new byte[4096];
            page[4095] = (byte)epoch;
            return new VmSnapshot(epoch, [], [new VmPage(5, page)]);
        };
        h.Host.Start();
        LinkId link = h.Connect();
        var hello = Assert.IsType<HelloMessage>(Assert.Single(h.Actions.Of<Sent>()).Message);
        Assert.Equal(new PageTerms(PageEncoding.ZeroRuns, 1 << 20), hello.PageTerms);
        WelcomeMessage welcome = h.Welcome();
        welcome.PageEncoding = PageEncoding.ZeroRuns;
        welcome.PageCacheBytes = 4096;
        h.Host.OnFrame(link, PrimaryHarness.Input(welcome));

        var decoder = new CheckpointPageDecoder(PageEncoding.ZeroRuns, 4096, 1 << 20);
        for (int i = 1; i <= 3; i++)
        {
            h.Host.RequestCheckpoint(i);
            h.Pump(link);
            CheckpointMessage sent = h.Actions.Of<Sent>().Select(s => s.Message).OfType<CheckpointMessage>().Last();
            Assert.Equal((PageEncoding.ZeroRuns, i), (sent.PageEncoding, sent.PageSequence));
            Assert.Equal((byte)sent.Epoch, sent.ToRecord(decoder).Snapshot.Pages[0].Data.Span[4095]);
        }

        Assert.True(h.Host.PageTraffic.SentBytes < h.Host.PageTraffic.CapturedBytes / 100);
        Assert.Equal(2, h.Host.PageTraffic.PagesAsDifference);

        // A new link: its secondary caches nothing yet, so neither may the encoder.
        h.Host.OnLinkClosed(link, "cable pulled");
        h.Host.OnReconnectDue();
        LinkId again = h.Connect();
        WelcomeMessage rewelcome = h.Welcome(h.Host.Engine!.LastAcknowledgedEpoch);
        rewelcome.PageEncoding = PageEncoding.ZeroRuns;
        rewelcome.PageCacheBytes = 4096;
        h.Host.OnFrame(again, PrimaryHarness.Input(rewelcome));
        h.Host.RequestCheckpoint(4);
        h.Pump(again);
        CheckpointMessage first = h.Actions.Of<Sent>().Where(s => s.Link == again).Select(s => s.Message).OfType<CheckpointMessage>().Last();
        Assert.Equal(1, first.PageSequence);
        Assert.Equal((byte)first.Epoch, first.ToRecord(new CheckpointPageDecoder(PageEncoding.ZeroRuns, 4096, 1 << 20)).Snapshot.Pages[0].Data.Span[4095]);
    }

    [Fact]
    public void A_welcome_answering_terms_the_hello_did_not_offer_refuses_the_start()
    {
        var h = new PrimaryHarness(o => o with { PageTerms = new PageTerms(PageEncoding.ZeroRuns, 1 << 20) });
        h.Host.Start();
        LinkId link = h.Connect();
        WelcomeMessage welcome = h.Welcome();
        welcome.PageEncoding = PageEncoding.ZeroRuns;
        welcome.PageCacheBytes = 2 << 20;

        h.Host.OnFrame(link, PrimaryHarness.Input(welcome));

        Assert.Contains("a page cache of 2097152 bytes, where the hello offered 1048576 at most", Assert.Single(h.Actions.Of<PrimaryStart>()).Reason, StringComparison.Ordinal);
        Assert.Null(h.Host.Engine);
    }
}
