using System.Text;
using Replicator.Hosts.Storage;
using Replicator.InMemory;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Tests;

public class NodeStateStoreTests
{
    private readonly MemoryStorageDirectory _directory = new("state");

    [Fact]
    public void A_saved_state_reads_back_as_it_was()
    {
        var store = new NodeStateStore(_directory);
        var state = new NodeState { PairId = "pair-1", Role = NodeRole.Secondary, Generations = Protocol.Generations.DataGenerations.None.Begin(new Protocol.Generations.GenerationMark { Id = 3, SinceUnixMilliseconds = 5, Cause = Protocol.Generations.GenerationCause.Promotion }), AppliedEpoch = 1234, AppliedLastSequence = 99, JournalSalt = 42, CpuState = [1, 2, 3] };

        store.Save(state);
        NodeState loaded = store.Load()!;

        Assert.Equal(state with { CpuState = loaded.CpuState, Generations = loaded.Generations }, loaded);
        Assert.Equal(state.CpuState, loaded.CpuState);
        Assert.Equal(state.Generations.Current, loaded.Generations.Current);
        Assert.Equal(Protocol.Generations.GenerationCause.Promotion, loaded.Generations.Current!.Cause);
        Assert.Equal(5, loaded.Generations.Current.SinceUnixMilliseconds);
        Assert.Equal(state.Generations.History, loaded.Generations.History);
    }

    [Fact]
    public void One_wrong_digit_in_the_applied_epoch_is_refused_naming_the_file()
    {
        var store = new NodeStateStore(_directory);
        store.Save(new NodeState { PairId = "pair-1", Role = NodeRole.Secondary, AppliedEpoch = 1234 });
        MemoryDisk file = _directory.Peek(NodeStateStore.FileName)!;
        string text = Encoding.UTF8.GetString(file.Contents);
        byte[] edited = Encoding.UTF8.GetBytes(text.Replace("1234", "1294", StringComparison.Ordinal));
        Assert.Equal(file.Contents.Length, edited.Length);
        file.Write(0, edited, fua: true);

        var refused = Assert.Throws<InvalidDataException>(store.Load);

        Assert.Contains(NodeStateStore.FileName, refused.Message, StringComparison.Ordinal);
        Assert.Contains("checksum", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_state_of_format_1_written_before_the_checksum_still_reads()
    {
        byte[] legacy = Encoding.UTF8.GetBytes("""{ "FormatVersion": 1, "PairId": "pair-1", "Generation": 2, "Role": "secondary", "AppliedEpoch": 7, "AppliedLastSequence": 70, "MidResync": false, "CpuState": "" }""");
        using (var file = _directory.Create(NodeStateStore.FileName, 0))
        {
            file.Write(0, legacy);
            file.Flush();
        }

        NodeState state = new NodeStateStore(_directory).Load()!;

        Assert.Equal(7, state.AppliedEpoch);
        Assert.Equal(NodeRole.Secondary, state.Role);
    }
}
