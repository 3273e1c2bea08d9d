using Replicator.Nbd.Backends;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Backends;

public class FileNbdBackendTests
{
    [Fact]
    public async Task Writes_read_back_and_only_fua_and_flush_go_to_disk()
    {
        using var image = new TempImage(1 << 20);
        using FileNbdBackend backend = FileNbdBackend.Open(image.Path);
        byte[] data = [.. Enumerable.Range(0, 8192).Select(i => (byte)(i * 7))];

        await backend.WriteAsync(4096, data, fua: false, CancellationToken.None);
        Assert.Equal(0, backend.FlushesToDisk);
        await backend.WriteAsync(65536, data, fua: true, CancellationToken.None);
        Assert.Equal(1, backend.FlushesToDisk);
        await backend.FlushAsync(CancellationToken.None);
        Assert.Equal(2, backend.FlushesToDisk);

        byte[] read = new byte[8192];
        await backend.ReadAsync(4096, read, CancellationToken.None);
        Assert.Equal(data, read);
        Assert.Equal(data, image.ReadAll().AsSpan(65536, 8192).ToArray());
    }

    [Fact]
    public async Task Write_zeroes_and_trim_leave_zeroes_even_across_many_zero_blocks()
    {
        using var image = new TempImage(40 << 20);
        using FileNbdBackend backend = FileNbdBackend.Open(image.Path, maxRequestBytes: 32 << 20);
        byte[] ones = [.. Enumerable.Repeat((byte)0xff, 40 << 20)];
        await backend.WriteAsync(0, ones, fua: false, CancellationToken.None);

        await backend.WriteZeroesAsync(512, (32 << 20) - 1024, fua: true, CancellationToken.None);
        await backend.TrimAsync(39 << 20, 4096, CancellationToken.None);

        byte[] all = image.ReadAll();
        Assert.Equal(0xff, all[511]);
        Assert.True(all.AsSpan(512, (32 << 20) - 1024).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(0xff, all[(32 << 20) - 512]);
        Assert.True(all.AsSpan(39 << 20, 4096).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(1, backend.FlushesToDisk);
    }

    [Fact]
    public void An_image_whose_size_is_not_whole_sectors_is_refused()
    {
        using var image = new TempImage(1000);

        ArgumentException refused = Assert.Throws<ArgumentException>(() => FileNbdBackend.Open(image.Path));
        Assert.Contains("not a multiple of 512", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_read_only_image_says_so()
    {
        using var image = new TempImage(1 << 20);
        using FileNbdBackend backend = FileNbdBackend.Open(image.Path, readOnly: true);

        Assert.True(backend.IsReadOnly);
        Assert.Equal(1 << 20, backend.Size);
        Assert.Equal(FileNbdBackend.DefaultMaxRequestBytes, backend.MaxRequestBytes);
    }
}
