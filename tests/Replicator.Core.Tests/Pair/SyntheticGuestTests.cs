using Replicator.Core.Blocks;
using Replicator.Core.Guest;
using Replicator.Core.Vm;
using Replicator.InMemory;

namespace Replicator.Core.Tests.Pair;

public class SyntheticGuestTests
{
    [Fact]
    public void The_same_seed_gives_the_same_run_byte_for_byte()
    {
        static (ulong Disk, ulong Ram, long Epochs) Run(int seed)
        {
            var pair = new InMemoryPair(new InMemoryPairOptions { Seed = seed, Guest = new SyntheticGuestOptions { Seed = seed, DiskBytes = 128 * 1024, MaxWriteBytes = 8192, RamPages = 8 } });
            pair.IssueRequests(500);
            pair.RunToQuiescence();
            pair.Checkpoint();
            return (GuestCheckpoint.Hash(pair.SecondaryImage.Contents), GuestCheckpoint.Hash(pair.Guest.Ram), pair.Secondary.LastCommittedEpoch);
        }

        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7).Disk, Run(8).Disk);
    }

    [Fact]
    public void The_workload_mixes_every_kind_of_request_and_overlaps()
    {
        var guest = new SyntheticGuest(new SyntheticGuestOptions { Seed = 3 });
        var requests = Enumerable.Range(0, 2_000).Select(_ => guest.NextRequest().Request).ToList();

        Assert.Contains(requests, r => r.Op == BlockOp.Flush);
        Assert.Contains(requests, r => r.Op == BlockOp.Trim);
        Assert.Contains(requests, r => r.Op == BlockOp.WriteZeroes);
        Assert.Contains(requests, r => r.Op == BlockOp.Write && r.Fua);
        Assert.True(requests.Select(r => r.Length).Distinct().Count() > 4, "write sizes should vary");
        Assert.Contains(requests.Zip(requests.Skip(1)), p => p.First.Overlaps(p.Second));
    }

    [Fact]
    public void The_first_capture_carries_all_of_RAM_and_later_ones_only_what_changed()
    {
        var guest = new SyntheticGuest(new SyntheticGuestOptions { Seed = 3, RamPages = 32, PagesDirtiedPerRequest = 0 });
        Assert.Equal(32, guest.CaptureChanges(1).Pages.Count);
        guest.DirtyRam(1);
        Assert.Single(guest.CaptureChanges(2).Pages);
        Assert.NotNull(guest.ExpectedAt(2));
    }

    [Fact]
    public void A_capture_copies_into_the_pages_the_last_released_snapshot_gave_back_and_never_into_one_still_held()
    {
        var guest = new SyntheticGuest(new SyntheticGuestOptions { Seed = 3, RamPages = 16, PagesDirtiedPerRequest = 0 });
        VmSnapshot first = guest.CaptureChanges(1);
        guest.Release(first);
        var released = first.Pages.Select(p => Array(p.Data)).ToHashSet(ReferenceEqualityComparer.Instance);

        guest.DirtyRam(16);
        VmSnapshot second = guest.CaptureChanges(2);
        byte[] ramAtSecond = guest.Ram.ToArray();
        guest.DirtyRam(16);
        VmSnapshot third = guest.CaptureChanges(3);

        // The second capture reused released buffers; the third, with the second still held, none of the second's.
        Assert.All(second.Pages, p => Assert.Contains(Array(p.Data), released));
        var held = second.Pages.Select(p => Array(p.Data)).ToHashSet(ReferenceEqualityComparer.Instance);
        Assert.All(third.Pages, p => Assert.DoesNotContain(Array(p.Data), held));

        // And what each holds is the RAM as it was at its own capture.
        foreach (VmPage page in second.Pages)
        {
            Assert.Equal(ramAtSecond.AsSpan((int)page.Index * 4096, 4096).ToArray(), page.Data.ToArray());
        }

        foreach (VmPage page in third.Pages)
        {
            Assert.Equal(guest.Ram.Slice((int)page.Index * 4096, 4096).ToArray(), page.Data.ToArray());
        }
    }

    private static byte[] Array(ReadOnlyMemory<byte> data) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(data, out ArraySegment<byte> segment) ? segment.Array! : throw new InvalidOperationException("not an array");
}
