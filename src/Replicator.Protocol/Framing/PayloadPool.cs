using System.Buffers;
using System.Collections.Concurrent;

namespace Replicator.Protocol.Framing;

/// <summary>
/// Memory for received mirror payloads. Like <see cref="MemoryPool{T}.Shared"/> it lends arrays from
/// <see cref="ArrayPool{T}.Shared"/>, but it also reuses the owner objects, so a payload received,
/// buffered and released allocates nothing in steady state. Rent and release may happen on
/// different threads (the link's receive loop rents, the engine's loop releases).
/// </summary>
public sealed class PayloadPool : MemoryPool<byte>
{
    // Enough for the records of a few epochs in flight; more owners are simply collected.
    private const int MaxSpareOwners = 4096;

    private readonly ConcurrentQueue<Owner> _spare = new();

    public override int MaxBufferSize => Array.MaxLength;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        byte[] array = ArrayPool<byte>.Shared.Rent(minBufferSize < 0 ? 4096 : minBufferSize);
        Owner owner = _spare.TryDequeue(out Owner? spare) ? spare : new Owner(this);
        owner.Lend(array);
        return owner;
    }

    protected override void Dispose(bool disposing)
    {
        // Nothing held: the arrays belong to the shared array pool.
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
                ArrayPool<byte>.Shared.Return(array);
                pool.Return(this);
            }
        }
    }
}
