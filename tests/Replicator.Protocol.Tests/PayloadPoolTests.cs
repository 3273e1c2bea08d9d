using System.Buffers;
using Replicator.Protocol.Framing;

namespace Replicator.Protocol.Tests;

public class PayloadPoolTests
{
    [Fact]
    public void A_released_owner_is_lent_again_with_memory_of_the_size_asked_for()
    {
        var pool = new PayloadPool();
        IMemoryOwner<byte> first = pool.Rent(4096);
        Assert.True(first.Memory.Length >= 4096);
        first.Dispose();

        IMemoryOwner<byte> second = pool.Rent(65536);

        Assert.Same(first, second);
        Assert.True(second.Memory.Length >= 65536);
    }

    [Fact]
    public void A_released_owner_lends_nothing_and_a_second_release_returns_nothing_twice()
    {
        var pool = new PayloadPool();
        IMemoryOwner<byte> owner = pool.Rent(512);
        owner.Dispose();
        owner.Dispose();

        Assert.Throws<ObjectDisposedException>(() => owner.Memory);

        // Released once only: two rents now get two different owners.
        IMemoryOwner<byte> a = pool.Rent(512);
        IMemoryOwner<byte> b = pool.Rent(512);
        Assert.NotSame(a, b);
    }
}
