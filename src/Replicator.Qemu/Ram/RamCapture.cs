using Replicator.Core.Vm;

namespace Replicator.Qemu.Ram;

/// <summary>What one capture took: the pages, in index order, and how many it compared.</summary>
public sealed record RamCapture(IReadOnlyList<VmPage> Pages, long PagesCompared)
{
    public long PagesCopied => Pages.Count;
}
