using Replicator.Core.Blocks;
using Replicator.Core.Epochs;

namespace Replicator.Core.Primary;

/// <summary>
/// A whole-image sync with checksums (<see cref="PrimaryOptions.ChecksumWholeImageSync"/>, as DRBD's
/// csums-alg): each region is first compared — a verify record in the sync's stream, read in order
/// with the guest's writes — and the secondary's answer decides: a region found equal is done as of
/// the epoch of its comparison (or of a guest write into it since), one that differs is queued to be
/// copied. The sync completes, as any resync, with the first checkpoint that leaves nothing to compare,
/// answer or copy.
/// </summary>
public sealed partial class PrimaryEngine
{
    private readonly Queue<long> _checksumRegions = new();

    // Comparisons sent and not yet answered, by offset: their length and epoch.
    private readonly Dictionary<long, (int Length, long Epoch)> _checksumsAwaited = new();
    private int _checksumReadsInFlight;

    /// <summary>Regions still to compare, comparisons in flight or unanswered.</summary>
    private bool ChecksumWorkLeft => _checksumRegions.Count > 0 || _checksumReadsInFlight > 0 || _checksumsAwaited.Count > 0;

    /// <summary>Bytes the running (or last) sync found equal by their checksums, and so did not copy.</summary>
    public long ChecksumBytesFoundEqual { get; private set; }

    /// <summary>Whether the running sync compares before it copies.</summary>
    public bool IsComparingChecksums => Replication == PrimaryReplication.Resyncing && ChecksumWorkLeft;

    /// <summary>
    /// The secondary's answer to a comparison of the running sync: <paramref name="diverged"/> holds
    /// the offsets of the blocks that differ. Answers this sync did not ask for (an earlier
    /// stream's, a verify's) are ignored: returns whether it was one of this sync's.
    /// </summary>
    public bool OnChecksumResult(long offset, int length, IReadOnlyCollection<long> diverged)
    {
        ArgumentNullException.ThrowIfNull(diverged);
        if (Replication != PrimaryReplication.Resyncing || !_checksumsAwaited.Remove(offset, out (int Length, long Epoch) asked) || asked.Length != length)
        {
            return false;
        }

        long first = offset / _dirtyRegions.RegionBytes;
        long last = (offset + length - 1) / _dirtyRegions.RegionBytes;
        for (long region = first; region <= last; region++)
        {
            (long regionOffset, long regionLength) = _dirtyRegions.RangeOf(region);
            if (diverged.Any(block => block < regionOffset + regionLength && block + VerifyBlocks.BlockBytes > regionOffset))
            {
                _resyncRegions.Enqueue(region); // still unknown: copied like any resync region
            }
            else
            {
                _dirtyRegions.MarkCopied(region, asked.Epoch);
                ResyncBytesLeft -= regionLength;
                ChecksumBytesFoundEqual += regionLength;
            }
        }

        AdmitResyncReads();
        AdmitChecksumReads();
        if (!HasResyncWorkLeft)
        {
            RequestCheckpoint(CheckpointTrigger.ResyncCopied);
        }

        return true;
    }

    /// <summary>Admits comparisons of queued regions (adjoining ones together) while the epoch is open, no guest request waits, few are in flight, and credit allows.</summary>
    private void AdmitChecksumReads()
    {
        while (Phase == PrimaryPhase.Running && Replication == PrimaryReplication.Resyncing && _admissionQueue.Count == 0
            && _checksumRegions.Count > 0 && _checksumReadsInFlight < _options.MaxResyncReadsInFlight)
        {
            long first = _checksumRegions.Peek();
            long last = first;
            long length = _dirtyRegions.RangeOf(first).Length;
            foreach (long next in _checksumRegions.Skip(1))
            {
                long more = _dirtyRegions.RangeOf(next).Length;
                if (next != last + 1 || length + more > _options.Geometry.MaxRequestBytes)
                {
                    break;
                }

                length += more;
                last = next;
            }

            if (_resyncBudget < length)
            {
                return; // the rate limit covers the sync's reads of the disk, compared or copied
            }

            long cost = VerifyBlocks.PayloadLength((int)length) + MirrorRecord.RecordOverheadBytes;
            if (_credit < cost)
            {
                if (_epochBufferBytes > 0)
                {
                    RequestCheckpoint(CheckpointTrigger.BufferPressure);
                }

                return;
            }

            for (long r = first; r <= last; r++)
            {
                _checksumRegions.Dequeue();
            }

            var range = BlockRequest.Write(_dirtyRegions.RangeOf(first).Offset, (int)length);
            _resyncBudget = _resyncBudget == long.MaxValue ? long.MaxValue : _resyncBudget - length;
            long readId = _nextResyncReadId--;
            _credit -= cost;
            _epochBufferBytes += cost;
            _checksumReadsInFlight++;
            _inFlight.Add(readId, new InFlightRequest(_nextSequence++, CurrentEpoch, range, default, _session, IsResyncRead: true, IsVerify: true, IsChecksum: true));
            if (_overlaps.Add(readId, range))
            {
                _actions.ReadForResync(readId, range.Offset, range.Length);
            }

            if (_checksumRegions.Count == 0)
            {
                // The last comparison is in: its epoch closes now, so the answers come soon.
                RequestCheckpoint(CheckpointTrigger.ResyncCopied);
            }
            else
            {
                CloseEpochIfLarge();
            }
        }
    }

    /// <summary>A comparison's read finished: its hashes go out and its answer is awaited; a failed read degrades, as a copy's does.</summary>
    private void CompleteChecksumRead(in InFlightRequest read, bool succeeded, ReadOnlyMemory<byte> data)
    {
        _checksumReadsInFlight--;
        if (!_mirroring || read.Session != _session)
        {
            return;
        }

        if (!succeeded || data.Length != read.Request.Length)
        {
            _dirtyRegions.MarkDiverged(read.Request.Offset, read.Request.Length);
            Degrade($"the primary's disk could not be read for the sync's comparison at {read.Request.Offset}+{read.Request.Length}");
            return;
        }

        _checksumsAwaited[read.Request.Offset] = (read.Request.Length, read.Epoch);
        SendHashes(read, data);
    }

    /// <summary>The stream ended: comparisons not answered leave their regions unknown, for the next sync.</summary>
    private void StopChecksums()
    {
        _checksumRegions.Clear();
        _checksumsAwaited.Clear();
    }
}
