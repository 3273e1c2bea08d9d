using Replicator.Core.Blocks;
using Replicator.Core.Storage;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Tests.Storage;

/// <summary>The one image file: as an NBD export's backend and as a block device, with one flush.</summary>
public sealed class ImageFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("replicator-image-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string NewImage(long size)
    {
        string path = Path.Combine(_directory, $"{Guid.NewGuid():N}.img");
        ImageFile.Create(path, size).Dispose();
        return path;
    }

    [Fact]
    public async Task Writes_read_back_and_only_fua_and_flush_go_to_disk()
    {
        string path = NewImage(1 << 20);
        using ImageFile backend = ImageFile.Open(path);
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
        Assert.Equal(data, File.ReadAllBytes(path).AsSpan(65536, 8192).ToArray());
    }

    [Fact]
    public async Task Write_zeroes_and_trim_leave_zeroes_even_across_many_zero_blocks()
    {
        string path = NewImage(40 << 20);
        using ImageFile backend = ImageFile.Open(path, maxRequestBytes: 32 << 20);
        byte[] ones = [.. Enumerable.Repeat((byte)0xff, 40 << 20)];
        await backend.WriteAsync(0, ones, fua: false, CancellationToken.None);

        await backend.WriteZeroesAsync(512, (32 << 20) - 1024, fua: true, CancellationToken.None);
        await backend.TrimAsync(39 << 20, 4096, CancellationToken.None);

        byte[] all = File.ReadAllBytes(path);
        Assert.Equal(0xff, all[511]);
        Assert.True(all.AsSpan(512, (32 << 20) - 1024).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(0xff, all[(32 << 20) - 512]);
        Assert.True(all.AsSpan(39 << 20, 4096).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(1, backend.FlushesToDisk);
    }

    [Fact]
    public void A_guest_request_on_the_block_seam_zeroes_and_flushes_through_the_same_file()
    {
        string path = NewImage(1 << 20);
        using ImageFile image = ImageFile.Open(path);
        image.Write(0, Enumerable.Repeat((byte)0xff, 1 << 20).ToArray());

        image.Apply(BlockRequest.Zeroes(4096, 600 << 10, fua: true), default);
        image.Apply(BlockRequest.Trim(700 << 10, 4096), default);

        byte[] all = File.ReadAllBytes(path);
        Assert.Equal(0xff, all[4095]);
        Assert.True(all.AsSpan(4096, 600 << 10).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(0xff, all[4096 + (600 << 10)]);
        Assert.True(all.AsSpan(700 << 10, 4096).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(1, image.FlushesToDisk);
    }

    [Fact]
    public void A_range_started_out_to_disk_is_counted_on_linux_and_a_hint_only_the_flush_still_counts()
    {
        using ImageFile journal = ImageFile.OpenGrowable(Path.Combine(_directory, "journal"), create: true);
        byte[] data = [.. Enumerable.Range(0, 64 << 10).Select(i => (byte)(i * 13))];
        journal.Write(0, data);

        journal.StartWriteOut(0, 32 << 10);
        journal.StartWriteOut(32 << 10, 0);
        Assert.Equal(OperatingSystem.IsLinux() ? 1 : 0, journal.WriteOutsStarted);
        Assert.Equal(0, journal.FlushesToDisk);

        journal.Flush();
        Assert.Equal(data, File.ReadAllBytes(journal.Path));
    }

    [Fact]
    public void Zeroes_past_the_end_of_a_growable_file_extend_it_and_an_image_refuses_them()
    {
        using ImageFile growable = ImageFile.OpenGrowable(Path.Combine(_directory, "journal"), create: true);
        growable.WriteZeroes(4096, 8192);
        Assert.Equal(12288, growable.Size);

        using ImageFile image = ImageFile.Open(NewImage(8192));
        Assert.Throws<ArgumentOutOfRangeException>(() => image.WriteZeroes(4096, 8192));
    }

    [Fact]
    public void An_image_whose_size_is_not_whole_sectors_is_refused()
    {
        string odd = Path.Combine(_directory, "odd.img");
        File.WriteAllBytes(odd, new byte[1000]);

        InvalidDataException refused = Assert.Throws<InvalidDataException>(() => ImageFile.Open(odd));
        Assert.Contains("not a multiple of 512", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_read_only_image_says_so()
    {
        using ImageFile backend = ImageFile.Open(NewImage(1 << 20), readOnly: true);

        Assert.True(backend.IsReadOnly);
        Assert.Equal(1 << 20, backend.Size);
        Assert.Equal(ImageFile.DefaultMaxRequestBytes, backend.MaxRequestBytes);
    }
}
