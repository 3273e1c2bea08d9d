using Replicator.Core.Vm;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;

namespace Replicator.Protocol.Tests.Pages;

/// <summary>A link's page encoder and decoder, in step over many checkpoints: the decoder gives back every page exactly.</summary>
public class CheckpointPageCodecTests
{
    private const int PageBytes = 4096;

    public static TheoryData<PageEncoding, long> Links => new()
    {
        { PageEncoding.ZeroRuns, 64L << 20 },
        { PageEncoding.Lz4, 64L << 20 },
        { PageEncoding.ZeroRuns, 5 * PageBytes }, // evicting all the time
        { PageEncoding.Lz4, 5 * PageBytes },
        { PageEncoding.ZeroRuns, 0 }, // no differences: each page squeezed on its own
    };

    /// <summary>A guest's RAM changing: pages touched in a few bytes, rewritten whole, zeroed, filled with text; now and then a page of another size.</summary>
    private sealed class ChangingRam(int seed, int pages)
    {
        private readonly Random _random = new(seed);
        private readonly byte[][] _ram = Enumerable.Range(0, pages).Select(_ => new byte[PageBytes]).ToArray();

        public VmPage[] Checkpoint()
        {
            var dirty = new SortedSet<int>();
            for (int i = _random.Next(1, _ram.Length); i > 0; i--)
            {
                dirty.Add(_random.Next(_ram.Length));
            }

            var taken = new List<VmPage>();
            foreach (int page in dirty)
            {
                byte[] bytes = _ram[page];
                switch (_random.Next(6))
                {
                    case 0:
                        _random.NextBytes(bytes);
                        break;
                    case 1:
                        Array.Clear(bytes);
                        break;
                    case 2:
                        System.Text.Encoding.ASCII.GetBytes(new string((char)('a' + _random.Next(26)), PageBytes)).CopyTo(bytes, 0);
                        break;
                    default:
                        _random.NextBytes(bytes.AsSpan(_random.Next(PageBytes - 16), _random.Next(1, 16)));
                        break;
                }

                taken.Add(new VmPage(page, _random.Next(40) == 0 ? bytes.AsMemory(0, 512).ToArray() : bytes.ToArray()));
            }

            return [.. taken];
        }
    }

    [Theory]
    [MemberData(nameof(Links))]
    public void Every_page_decodes_to_what_was_sent_checkpoint_after_checkpoint(PageEncoding encoding, long cacheBytes)
    {
        var encoder = new CheckpointPageEncoder(encoding, cacheBytes);
        var decoder = new CheckpointPageDecoder(encoding, cacheBytes, 1L << 30);
        var ram = new ChangingRam(seed: 11, pages: 24);
        for (long checkpoint = 1; checkpoint <= 300; checkpoint++)
        {
            VmPage[] pages = ram.Checkpoint();
            ReadOnlyMemory<byte>[] encoded = encoder.Encode(pages);

            VmPage[] decoded = decoder.Decode(checkpoint, encoder.Checkpoints, pages.Select(p => p.Index).ToArray(), encoded);

            Assert.Equal(pages.Length, decoded.Length);
            for (int i = 0; i < pages.Length; i++)
            {
                Assert.Equal(pages[i].Index, decoded[i].Index);
                Assert.True(pages[i].Data.Span.SequenceEqual(decoded[i].Data.Span), $"checkpoint {checkpoint}, page {pages[i].Index}");
            }
        }

        Assert.True(encoder.BytesOut < encoder.BytesIn);
        Assert.Equal(cacheBytes > 0, encoder.PagesAsDifference > 0);
    }

    [Fact]
    public void A_page_changed_in_a_few_bytes_goes_as_a_difference_of_a_few_bytes()
    {
        var encoder = new CheckpointPageEncoder(PageEncoding.ZeroRuns, 1 << 20);
        byte[] page = new byte[PageBytes];
        new Random(3).NextBytes(page);
        Assert.Equal(1 + PageBytes, encoder.Encode([new VmPage(9, page)])[0].Length); // noise, nothing cached: whole

        page[100] ^= 0xFF;
        page[3000] ^= 0x0F;
        ReadOnlyMemory<byte> difference = encoder.Encode([new VmPage(9, page)])[0];

        Assert.Equal((byte)PageForm.DeltaZeroRuns, difference.Span[0]);
        // The form, the length (2 bytes), (100, 1) and its byte, (2899, 1) and its byte, (1095, 0).
        Assert.Equal(13, difference.Length);
        Assert.Equal(1, encoder.PagesAsDifference);
    }

    [Fact]
    public void A_checkpoint_decoded_out_of_its_order_is_refused()
    {
        var encoder = new CheckpointPageEncoder(PageEncoding.ZeroRuns, 1 << 20);
        var decoder = new CheckpointPageDecoder(PageEncoding.ZeroRuns, 1 << 20, 1L << 30);
        VmPage[] pages = [new VmPage(1, new byte[PageBytes])];
        encoder.Encode(pages);
        ReadOnlyMemory<byte>[] second = encoder.Encode(pages);

        var refused = Assert.Throws<ProtocolViolationException>(() => decoder.Decode(8, 2, [1], second));
        Assert.Contains("encoded checkpoint 2, where 1 comes next", refused.Message);
    }

    [Fact]
    public void A_difference_from_a_page_the_decoder_does_not_hold_is_refused()
    {
        var encoder = new CheckpointPageEncoder(PageEncoding.ZeroRuns, 1 << 20);
        var decoder = new CheckpointPageDecoder(PageEncoding.ZeroRuns, 1 << 20, 1L << 30);
        encoder.Encode([new VmPage(1, new byte[PageBytes])]);
        ReadOnlyMemory<byte>[] difference = [encoder.Encode([new VmPage(1, new byte[PageBytes])])[0].ToArray()];
        decoder.Decode(1, 1, [2], encoder.Encode([new VmPage(2, new byte[PageBytes])])); // another page: 1 was never received

        var refused = Assert.Throws<ProtocolViolationException>(() => decoder.Decode(2, 2, [1], difference));
        Assert.Contains("a difference from a page this node does not hold", refused.Message);
    }

    [Theory]
    [InlineData(new byte[] { 3, 0x80, 0x20, 0 })] // an LZ4 form on a link of zero runs
    [InlineData(new byte[] { 9 })] // no such form
    [InlineData(new byte[] { })] // no form byte
    [InlineData(new byte[] { 1, 0x80, 0x80, 0x10 })] // a page of 256 KiB
    [InlineData(new byte[] { 1, 0x80, 0x20, 0x05, 0x00 })] // zero runs that fall short of the length
    public void Pages_that_do_not_decode_are_refused(byte[] encoded)
    {
        var decoder = new CheckpointPageDecoder(PageEncoding.ZeroRuns, 1 << 20, 1L << 30);

        Assert.Throws<ProtocolViolationException>(() => decoder.Decode(1, 1, [0], [encoded]));
    }

    [Fact]
    public void Pages_that_decode_to_more_than_the_guest_s_RAM_are_refused_before_they_are_held()
    {
        var encoder = new CheckpointPageEncoder(PageEncoding.ZeroRuns, 0);
        VmPage[] zeros = Enumerable.Range(0, 3).Select(i => new VmPage(i, new byte[PageBytes])).ToArray();
        ReadOnlyMemory<byte>[] encoded = encoder.Encode(zeros); // three bytes or so each
        var decoder = new CheckpointPageDecoder(PageEncoding.ZeroRuns, 0, largestSnapshotBytes: 2 * PageBytes);

        var refused = Assert.Throws<ProtocolViolationException>(() => decoder.Decode(1, 1, [0, 1, 2], encoded));
        Assert.Contains("more than the 8192 bytes of the guest's RAM", refused.Message);
    }

    [Fact]
    public void Encoded_pages_on_a_link_that_agreed_on_none_and_whole_pages_where_encoded_ones_are_due_are_refused()
    {
        var checkpoint = new Core.Epochs.CheckpointRecord(1, 1, 1, 0, new VmSnapshot(1, [], [new VmPage(0, new byte[PageBytes])]), 0);
        CheckpointMessage encoded = CheckpointMessage.From(checkpoint, new CheckpointPageEncoder(PageEncoding.ZeroRuns, 1 << 20));
        CheckpointMessage whole = CheckpointMessage.From(checkpoint);

        Assert.Contains("agreed on None", Assert.Throws<ProtocolViolationException>(() => encoded.ToRecord()).Message);
        Assert.Contains("pages encoded as None on a link that agreed on ZeroRuns", Assert.Throws<ProtocolViolationException>(() => whole.ToRecord(new CheckpointPageDecoder(PageEncoding.ZeroRuns, 1 << 20, 1L << 30))).Message);
    }
}
