using System.Buffers;
using System.Collections.Concurrent;

namespace Replicator.Protocol.Framing;

/// <summary>
/// Memory for received mirror payloads, lent from an array pool of its own and with the owner
/// objects reused, so a payload received, buffered and released allocates nothing in steady state.
/// Not <see cref="ArrayPool{T}.Shared"/>: a secondary holds hundreds of megabytes of payloads at
/// once (its credit window and write-back backlog), far more than the shared pool keeps per size,
/// and the shared pool drops its arrays at every full collection; each payload then became a new
/// large-object array, and the collections they caused dropped the pool again. This pool keeps
/// what was returned, up to <see cref="MaxArraysPerSize"/> arrays of each size class, so it never
/// holds more than the largest set of payloads that were in use at once. Rent and release may
/// happen on different threads (the link's receive loop rents, the engine's loop releases).
/// </summary>
public sealed class PayloadPool : MemoryPool<byte>
{
    /// <summary>Arrays kept per size class (powers of two): 1 GiB of 1 MiB payloads, 4 MiB of 4 KiB ones.</summary>
    public const int MaxArraysPerSize = 1024;

    /// <summary>Payloads larger than this are allocated and left to the collector.</summary>
    public const int MaxPooledArrayBytes = 64 << 20;

    // Enough for the records of a few epochs in flight; more owners are simply collected.
    private const int MaxSpareOwners = 4096;

    private readonly ConcurrentQueue<Owner> _spare = new();
    private readonly ArrayPool<byte> _arrays = ArrayPool<byte>.Create(MaxPooledArrayBytes, MaxArraysPerSize);

    public override int MaxBufferSize => Array.MaxLength;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        byte[] array = _arrays.Rent(minBufferSize < 0 ? 4096 : minBufferSize);
        Owner owner = _spare.TryDequeue(out Owner? spare) ? spare : new Owner(this);
        owner.Lend(array);
        return owner;
    }

    protected override void Dispose(bool disposing)
    {
        // Nothing to release: the arrays are the collector's once the pool is unreachable.
    }

    private void Return(Owner owner)
    {
        if (_spare.Count < MaxSpareOwners)
        {
            _spare.Enqueue(owner);
        }
    }

    private sealed class Owner(PayloadPool pool) : IMemoryOwner<byte>
    {
        private byte[]? _array;

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Owner));

        public void Lend(byte[] array) => _array = array;

        public void Dispose()
        {
            byte[]? array = Interlocked.Exchange(ref _array, null);
            if (array is not null)
            {
                pool._arrays.Return(array);
                pool.Return(this);
            }
        }
    }
}
