using System.Globalization;
using System.Text;

namespace Replicator.Qemu.Guests;

/// <summary>
/// Writes a cpio archive in the "newc" format, the one the Linux kernel unpacks as an initramfs:
/// each entry a 110-byte ASCII header of hexadecimal fields, its name, its data, each padded to 4
/// bytes; a <c>TRAILER!!!</c> entry ends it.
/// </summary>
internal sealed class CpioArchive(Stream output)
{
    private const int DirectoryMode = 0x4000;
    private const int RegularFileMode = 0x8000;

    private int _nextInode = 1;

    public void AddDirectory(string name) => Add(name, DirectoryMode | 0x1ED, []);

    /// <summary>A regular file; <paramref name="executable"/> makes it 0755, else 0644.</summary>
    public void AddFile(string name, ReadOnlySpan<byte> data, bool executable) => Add(name, RegularFileMode | (executable ? 0x1ED : 0x1A4), data);

    public void Finish() => Add("TRAILER!!!", 0, []);

    private void Add(string name, int mode, ReadOnlySpan<byte> data)
    {
        byte[] nameBytes = Encoding.ASCII.GetBytes(name + "\0");
        int nlink = (mode & DirectoryMode) != 0 ? 2 : 1;
        int inode = mode == 0 ? 0 : _nextInode++;
        var header = new StringBuilder("070701", 110);
        foreach (int field in (ReadOnlySpan<int>)[inode, mode, 0, 0, nlink, 0, data.Length, 0, 0, 0, 0, nameBytes.Length, 0])
        {
            header.Append(field.ToString("X8", CultureInfo.InvariantCulture));
        }

        output.Write(Encoding.ASCII.GetBytes(header.ToString()));
        output.Write(nameBytes);
        Pad(110 + nameBytes.Length);
        output.Write(data);
        Pad(data.Length);
    }

    private void Pad(int written)
    {
        int padding = (4 - (written % 4)) % 4;
        output.Write(new byte[padding]);
    }
}
