using Replicator.Core.Blocks;
using Replicator.Core.Storage;

namespace Replicator.Core.Tests.Storage;

/// <summary>Guest requests on a device that has no zero path of its own: zeroes come as writes cut from the shared block.</summary>
public class BlockDeviceRequestsTests
{
    [Fact]
    public void Write_zeroes_and_trim_become_writes_of_at_most_one_zero_block_and_fua_flushes()
    {
        var device = new ArrayDevice(1 << 20);
        device.Bytes.AsSpan().Fill(0xff);

        device.Apply(BlockRequest.Zeroes(512, (600 << 10) - 1024, fua: true), default);
        device.Apply(BlockRequest.Trim(700 << 10, 4096), default);

        Assert.Equal(0xff, device.Bytes[511]);
        Assert.True(device.Bytes.AsSpan(512, (600 << 10) - 1024).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(0xff, device.Bytes[(600 << 10) - 512]);
        Assert.True(device.Bytes.AsSpan(700 << 10, 4096).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal([ZeroBlock.Bytes, ZeroBlock.Bytes, (600 << 10) - 1024 - (2 * ZeroBlock.Bytes), 4096], device.Writes);
        Assert.Equal(1, device.Flushes);
    }

    /// <summary>A device in memory that keeps only the default zero path and counts what reaches it.</summary>
    private sealed class ArrayDevice(int size) : IBlockDevice
    {
        public byte[] Bytes { get; } = new byte[size];

        public List<int> Writes { get; } = [];

        public int Flushes { get; private set; }

        public string Name => "memory";

        public long Size => Bytes.Length;

        public void Read(long offset, Span<byte> destination) => Bytes.AsSpan((int)offset, destination.Length).CopyTo(destination);

        public void Write(long offset, ReadOnlySpan<byte> data)
        {
            Writes.Add(data.Length);
            data.CopyTo(Bytes.AsSpan((int)offset));
        }

        public void Flush() => Flushes++;

        public void SetSize(long size) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
