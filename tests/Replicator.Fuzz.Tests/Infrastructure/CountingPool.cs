using System.Buffers;

namespace Replicator.Fuzz.Tests.Infrastructure;

/// <summary>A memory pool that hands out exact-size arrays and remembers what was rented and not given back.</summary>
internal sealed class CountingPool : MemoryPool<byte>
{
    public List<int> Rented { get; } = [];

    public int Outstanding { get; private set; }

    public override int MaxBufferSize => Array.MaxLength;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        Rented.Add(minBufferSize);
        Outstanding++;
        return new Owner(this, new byte[Math.Max(minBufferSize, 0)]);
    }

    protected override void Dispose(bool disposing)
    {
    }

    private sealed class Owner(CountingPool pool, byte[] array) : IMemoryOwner<byte>
    {
        private bool _disposed;

        public Memory<byte> Memory => array;

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                pool.Outstanding--;
            }
        }
    }
}
