using CsCheck;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Tests.Support;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Secondary;

/// <summary>
/// <see cref="SecondaryEngine.OverlayCommitted"/> against a reference model: a read of the promoted
/// image while committed epochs drain must return exactly the image with every committed epoch
/// applied in sequence order — whatever the offset and length of the read, however far the epoch
/// being applied got, and with nothing from epochs still being journalled or still open.
/// </summary>
public class CommittedOverlayTests
{
    private const int DiskBytes = 64 * 1024; // small, so that requests and reads overlap often
    private const int Sector = BlockGeometry.SectorSize;
    private const int Cases = 400;

    [Fact]
    public void A_read_at_any_offset_and_length_sees_the_image_with_every_committed_epoch_applied()
    {
        // A fixed PCG stream: the same cases every run. A failure names the seed that regenerates it.
        var pcg = new PCG(15, 20261202);
        for (int i = 0; i < Cases; i++)
        {
            ulong state = pcg.State;
            OverlayCase @case = Generator.Generate(pcg, null, out _);
            string? failure = Check(@case);
            Assert.True(failure is null, $"case {i} (CsCheck seed {pcg.ToString(state)}): {failure}\n{@case}");
        }
    }

    [Fact]
    public void A_read_inside_one_write_at_a_non_zero_offset_takes_the_matching_slice_of_its_payload()
    {
        var actions = new RecordingSecondaryActions();
        var secondary = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 20 }, actions);
        byte[] payload = Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)).ToArray();
        var record = new MirrorRecord(1, 1, BlockRequest.Write(8192, 4096), payload);
        secondary.OnMirror(record);
        secondary.OnCheckpoint(CheckpointFor(1, 1, 1, record));
        secondary.OnEpochPersisted(1);

        byte[] read = new byte[100];
        secondary.OverlayCommitted(8192 + 1000, read);
        Assert.Equal(payload.AsSpan(1000, 100).ToArray(), read);

        byte[] straddling = Filled(200, 0x55);
        secondary.OverlayCommitted(8192 + 4096 - 50, straddling);
        Assert.Equal(payload.AsSpan(4046, 50).ToArray(), straddling.AsSpan(0, 50).ToArray());
        Assert.All(straddling.AsSpan(50).ToArray(), b => Assert.Equal(0x55, b)); // past the write: the image's bytes
    }

    private static readonly Gen<OverlayCase> Generator =
        from image in Gen.Byte.Array[DiskBytes]
        from epochs in GenRequest.Array[0, 6].Array[1, 5]
        from committed in Gen.Int[0, epochs.Length]
        from applied in Gen.Int[0, committed]
        from partial in Gen.Int[0, 6]
        from open in GenRequest.Array[0, 3]
        from reads in GenRead.Array[1, 12]
        select new OverlayCase(image, epochs, committed, applied, partial, open, reads);

    private static Gen<Request> GenRequest =>
        from op in Gen.OneOf(BlockOp.Write, BlockOp.Write, BlockOp.WriteZeroes, BlockOp.Trim, BlockOp.Flush, BlockOp.Verify)
        from sector in Gen.Int[0, (DiskBytes / Sector) - 1]
        from sectors in Gen.Int[1, 16]
        from fill in Gen.Byte
        select op == BlockOp.Flush
            ? new Request(op, 0, 0, 0)
            : new Request(op, (long)sector * Sector, Math.Min(sectors, (DiskBytes / Sector) - sector) * Sector, fill);

    private static Gen<(int Offset, int Length)> GenRead =>
        from offset in Gen.Int[0, DiskBytes - 1]
        from length in Gen.Int[0, 9000]
        select (offset, Math.Min(length, DiskBytes - offset));

    /// <summary>Null when every read of the case matches the model, else what differed.</summary>
    private static string? Check(OverlayCase @case)
    {
        var actions = new RecordingSecondaryActions();
        var secondary = new SecondaryEngine(new SecondaryOptions { Geometry = Geometry, BufferCapacityBytes = 1 << 22 }, actions);
        byte[] image = (byte[])@case.Image.Clone();    // what the secondary's image file holds
        byte[] expected = (byte[])@case.Image.Clone(); // the image with every committed epoch applied

        long sequence = 1;
        var epochRecords = new List<MirrorRecord[]>();
        for (int e = 0; e < @case.Epochs.Length; e++)
        {
            long epoch = e + 1;
            MirrorRecord[] records = @case.Epochs[e].Select(r => r.ToRecord(epoch, sequence++)).ToArray();
            epochRecords.Add(records);
            foreach (MirrorRecord record in records.Reverse())
            {
                secondary.OnMirror(record); // in any order: the engine sorts by sequence number
            }

            secondary.OnCheckpoint(CheckpointFor(epoch, sequence - records.Length, sequence - 1, records));
        }

        foreach (Request request in @case.Open)
        {
            secondary.OnMirror(request.ToRecord(@case.Epochs.Length + 1, sequence++)); // never closed
        }

        if (secondary.StallReason is { } stalled)
        {
            return $"the secondary refused the case: {stalled}";
        }

        for (int e = 0; e < @case.Committed; e++)
        {
            secondary.OnEpochPersisted(e + 1);
            foreach (MirrorRecord record in epochRecords[e])
            {
                Apply(expected, record);
            }
        }

        int reported = 0; // epochs the engine was told are applied: the rest stay in RAM
        for (int e = 0; e < @case.Applied; e++)
        {
            foreach (MirrorRecord record in epochRecords[e])
            {
                Apply(image, record);
            }

            // Epochs committed while another was written back go in one batch, with one state record.
            if (actions.ApplyingThrough == e + 1)
            {
                secondary.OnApplied(e + 1);
                reported = e + 1;
            }
        }

        if (@case.Applied < @case.Committed)
        {
            // The host is part way through the epoch being applied.
            foreach (MirrorRecord record in epochRecords[@case.Applied].Take(@case.PartiallyApplied))
            {
                Apply(image, record);
            }
        }

        foreach ((int offset, int length) in @case.Reads)
        {
            byte[] read = image.AsSpan(offset, length).ToArray();
            secondary.OverlayCommitted(offset, read);
            int differs = read.AsSpan().CommonPrefixLength(expected.AsSpan(offset, length));
            if (differs < length)
            {
                return $"read {offset}+{length}: byte {offset + differs} is {read[differs]:x2}, the model says {expected[offset + differs]:x2}";
            }
        }

        // The same reads as a promoted node serves them: through the takeover's own index, once the
        // journal writes still under way have failed (nothing more can commit).
        secondary.Promote();
        if (@case.Committed < @case.Epochs.Length)
        {
            secondary.OnPersistFailed(@case.Committed + 1, "power cut");
        }

        CommittedOverlay takeover = Assert.Single(actions.Takeovers);
        if (takeover.Epoch != @case.Committed)
        {
            return $"the takeover is at epoch {takeover.Epoch}, the last committed is {@case.Committed}";
        }

        foreach ((int offset, int length) in @case.Reads)
        {
            byte[] read = new byte[length];
            takeover.Read(new ArrayImage(image), offset, read);
            int differs = read.AsSpan().CommonPrefixLength(expected.AsSpan(offset, length));
            if (differs < length)
            {
                return $"takeover read {offset}+{length}: byte {offset + differs} is {read[differs]:x2}, the model says {expected[offset + differs]:x2}";
            }

            bool overlaps = epochRecords.Take(@case.Committed).Skip(reported).SelectMany(r => r).Any(r => r.Request.ChangesData && r.Request.Offset < offset + length && r.Request.End > offset);
            if (length > 0 && takeover.Overlaps(offset, length) != overlaps)
            {
                return $"takeover says a write of {offset}+{length} {(overlaps ? "does not overlap" : "overlaps")} a committed record";
            }
        }

        return null;
    }

    private readonly struct ArrayImage(byte[] image) : IImageReader
    {
        public void Read(long offset, Span<byte> destination) => image.AsSpan((int)offset, destination.Length).CopyTo(destination);
    }

    private static void Apply(byte[] disk, in MirrorRecord record)
    {
        BlockRequest request = record.Request;
        Span<byte> target = disk.AsSpan((int)request.Offset, request.Length);
        switch (request.Op)
        {
            case BlockOp.Write:
                record.Payload.Span.CopyTo(target);
                break;
            case BlockOp.WriteZeroes or BlockOp.Trim:
                target.Clear(); // a trimmed range reads as zeroes on this image
                break;
        }
    }

    private readonly record struct Request(BlockOp Op, long Offset, int Length, byte Fill)
    {
        public MirrorRecord ToRecord(long epoch, long sequence) => Op switch
        {
            BlockOp.Flush => new MirrorRecord(epoch, sequence, BlockRequest.Flush(), default),
            BlockOp.Write => new MirrorRecord(epoch, sequence, BlockRequest.Write(Offset, Length), Pattern(Length, Fill)),
            BlockOp.Verify => new MirrorRecord(epoch, sequence, new BlockRequest(BlockOp.Verify, Offset, Length), Pattern(VerifyBlocks.PayloadLength(Length), Fill)), // block digests, not data
            BlockOp.WriteZeroes => new MirrorRecord(epoch, sequence, BlockRequest.Zeroes(Offset, Length), default),
            _ => new MirrorRecord(epoch, sequence, BlockRequest.Trim(Offset, Length), default),
        };

        // Every byte differs from its neighbours, so a payload sliced at the wrong place is seen.
        private static byte[] Pattern(int length, byte fill) => Enumerable.Range(0, length).Select(i => (byte)(fill + i)).ToArray();
    }

    private sealed record OverlayCase(byte[] Image, Request[][] Epochs, int Committed, int Applied, int PartiallyApplied, Request[] Open, (int Offset, int Length)[] Reads)
    {
        public override string ToString() =>
            $"epochs {string.Join(" | ", Epochs.Select(e => string.Join(", ", e.Select(r => $"{r.Op} {r.Offset}+{r.Length}"))))}; " +
            $"committed {Committed}, applied {Applied} (+{PartiallyApplied} records of the next), open {Open.Length} records, " +
            $"reads {string.Join(", ", Reads.Select(r => $"{r.Offset}+{r.Length}"))}";
    }
}
