using System.Text;
using System.Text.Json;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Tests.Support;
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

    [Fact]
    public void A_node_without_a_state_record_has_none_and_nothing_is_left_open()
    {
        Assert.Null(new NodeStateStore(_directory).Load());
        new NodeStateStore(_directory).Save(new NodeState { PairId = "pair-1", Role = NodeRole.Secondary });
        Assert.NotNull(new NodeStateStore(_directory).Load());
        Assert.Equal(0, _directory.OpenDevices);
    }

    [Fact]
    public void The_record_carries_the_documented_checksum_over_its_exact_bytes()
    {
        new NodeStateStore(_directory).Save(new NodeState { PairId = "pair-1", Role = NodeRole.Primary, AppliedEpoch = 5, FormatVersion = 1 });

        using JsonDocument file = JsonDocument.Parse(_directory.Peek(NodeStateStore.FileName)!.Contents.ToArray());
        JsonElement record = file.RootElement.GetProperty("state");

        Assert.Equal(Crc32C(record.GetRawText()), file.RootElement.GetProperty("crc32c").GetString());
        // Indented, for an operator to read; saved in this build's format whatever the record said; roles as words.
        Assert.StartsWith($"{{\n  \"state\": {{\n  \"FormatVersion\": {NodeState.CurrentFormatVersion},\n  \"PairId\": ", Encoding.UTF8.GetString(_directory.Peek(NodeStateStore.FileName)!.Contents), StringComparison.Ordinal);
        Assert.Equal(NodeState.CurrentFormatVersion, record.GetProperty("FormatVersion").GetInt32());
        Assert.Equal("primary", record.GetProperty("Role").GetString());
    }

    [Theory]
    [InlineData("not json at all", "is damaged")]
    [InlineData("""{ "state": { "PairId": "pair-1", "Role": "secondary" } }""", "is damaged")] // the checksum is gone
    [InlineData("""{ "state": { "PairId": "pair-1", "Role": "secondary" }, "crc32c": "00000000" }""", "its checksum is 00000000, its contents give")]
    [InlineData("""{ "state": { "PairId": "pair-1", "Role": "secondary" }, "crc32c": null }""", "its checksum is missing, its contents give")]
    [InlineData("""{ "FormatVersion": 1, "PairId": "pair-1", "Role": "leader" }""", "is damaged")] // a role no build writes
    [InlineData("""{ "FormatVersion": 1, "PairId": "pair-1", "Role": 1 }""", "is damaged")] // roles are words, never numbers
    [InlineData("""{ "FormatVersion": 99, "PairId": "pair-1", "Role": "secondary" }""", "has format 99; this build reads formats 1 to 4")]
    [InlineData("""{ "FormatVersion": 0, "PairId": "pair-1", "Role": "secondary" }""", "has format 0;")]
    [InlineData("null", "is damaged")]
    [InlineData("""{ "state": null, "crc32c": "147e9acc" }""", "holds an empty record;")] // checksummed, and empty
    public void A_record_that_cannot_be_trusted_is_refused_naming_the_file_never_taken_for_a_fresh_start(string contents, string why)
    {
        using (var file = _directory.Create(NodeStateStore.FileName, 0))
        {
            file.Write(0, Encoding.UTF8.GetBytes(contents));
            file.Flush();
        }

        var refused = Assert.Throws<InvalidDataException>(new NodeStateStore(_directory).Load);

        Assert.StartsWith($"node state state/{NodeStateStore.FileName} ", refused.Message, StringComparison.Ordinal);
        Assert.Contains(why, refused.Message, StringComparison.Ordinal);
        Assert.Equal(contents, Encoding.UTF8.GetString(_directory.Peek(NodeStateStore.FileName)!.Contents));
        Assert.Equal(0, _directory.OpenDevices);
    }

    [Fact]
    public void A_checksummed_record_of_a_newer_format_is_refused_too()
    {
        var store = new NodeStateStore(_directory);
        store.Save(new NodeState { PairId = "pair-1", Role = NodeRole.Secondary });
        MemoryDisk file = _directory.Peek(NodeStateStore.FileName)!;
        using JsonDocument document = JsonDocument.Parse(file.Contents.ToArray());
        string current = $"\"FormatVersion\": {NodeState.CurrentFormatVersion}";
        string record = document.RootElement.GetProperty("state").GetRawText();
        Assert.Contains(current, record, StringComparison.Ordinal);
        record = record.Replace(current, "\"FormatVersion\": 9", StringComparison.Ordinal);
        byte[] forged = Encoding.UTF8.GetBytes($"{{ \"state\": {record}, \"crc32c\": \"{Crc32C(record)}\" }}");
        file.SetSize(0);
        file.Write(0, forged, fua: true);

        var refused = Assert.Throws<InvalidDataException>(store.Load);

        Assert.Contains("has format 9", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_power_cut_at_any_step_of_a_save_leaves_the_old_record_or_the_new_one()
    {
        for (int cutAt = 1; cutAt <= 8; cutAt++)
        {
            for (int seed = 0; seed < 4; seed++)
            {
                var power = new PowerCutAfter();
                var directory = new MemoryStorageDirectory("state", power);
                var store = new NodeStateStore(directory);
                store.Save(new NodeState { PairId = "pair-1", Role = NodeRole.Secondary, AppliedEpoch = 1 });
                power.CallsLeft = cutAt;
                bool saved = false;
                try
                {
                    store.Save(new NodeState { PairId = "pair-1", Role = NodeRole.Secondary, AppliedEpoch = 2 });
                    saved = true;
                }
                catch (PowerCutException)
                {
                }

                power.CallsLeft = -1;
                directory.PowerCut(new Random(seed));
                long applied = store.Load()!.AppliedEpoch;

                Assert.True(saved ? applied == 2 : applied is 1 or 2, $"cut at call {cutAt}, seed {seed}: saved {saved}, read back epoch {applied}");
            }
        }
    }

    [Fact]
    public void A_missing_state_is_a_caller_s_bug_and_is_refused()
    {
        Assert.Throws<ArgumentNullException>(() => new NodeStateStore(_directory).Save(null!));
        Assert.False(_directory.Exists(NodeStateStore.FileName));
    }

    /// <summary>The record's checksum as the file states it: CRC-32C of its UTF-8 bytes, 8 lower-case hex digits.</summary>
    private static string Crc32C(string text) =>
        TextbookCrc32C.Compute(Encoding.UTF8.GetBytes(text)).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);

    private sealed class PowerCutException : Exception;

    /// <summary>The power goes just before a storage call, the given number of calls from now.</summary>
    private sealed class PowerCutAfter : IStorageFaults
    {
        public int CallsLeft { get; set; } = -1;

        public void BeforeCall(StorageCall kind, string name)
        {
            if (CallsLeft > 0 && --CallsLeft == 0)
            {
                throw new PowerCutException();
            }
        }
    }
}
