using MessagePack;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;

namespace Replicator.Protocol.Tests;

/// <summary>
/// The generation table against a model of what each node's image holds: every history two nodes can
/// make by writing alone, syncing one from the other as the table allows, and discarding their data,
/// up to six steps — every row of the table is reached, and each is checked against the truth.
/// </summary>
public class GenerationTableTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    private enum Step
    {
        AWritesAlone,
        BWritesAlone,
        SyncAToB,
        SyncBToA,
        DiscardA,
        DiscardB,
    }

    [Fact]
    public void Every_history_of_up_to_six_steps_is_related_and_decided_as_the_data_says()
    {
        var reached = new HashSet<PairRelation>();
        int histories = 0;
        foreach (Step[] steps in Sequences(6))
        {
            var world = new World();
            foreach (Step step in steps)
            {
                world.Apply(step);
                histories++;
                Check(world.A, world.B, world.DataA, world.DataB, reached);
                Check(world.B, world.A, world.DataB, world.DataA, reached);
            }
        }

        Assert.True(histories > 50_000, $"only {histories} histories");
        Assert.Equal(Enum.GetValues<PairRelation>().ToHashSet(), reached);
    }

    [Fact]
    public void A_blank_secondary_gets_a_full_sync_and_an_unrelated_one_only_with_permission()
    {
        DataGenerations primary = DataGenerations.None.Begin(Mark(GenerationCause.Created));
        DataGenerations stranger = DataGenerations.None.Begin(Mark(GenerationCause.Created));

        Assert.Equal(SyncDecision.FullSync, GenerationTable.Decide(primary, DataGenerations.None, fullSyncAllowed: false).Decision);
        GenerationVerdict refused = GenerationTable.Decide(primary, stranger, fullSyncAllowed: false);
        Assert.Equal(SyncDecision.RefuseUnrelated, refused.Decision);
        Assert.Contains("--allow-full-sync", refused.Explanation, StringComparison.Ordinal);
        Assert.Equal(SyncDecision.FullSync, GenerationTable.Decide(primary, stranger, fullSyncAllowed: true).Decision);
    }

    [Fact]
    public void A_split_brain_says_which_side_wrote_what_since_when()
    {
        GenerationMark shared = Mark(GenerationCause.Created);
        GenerationMark alone = new() { Id = 0x0a, SinceUnixMilliseconds = Now.AddMinutes(5).ToUnixTimeMilliseconds(), Cause = GenerationCause.UnprotectedWriting };
        GenerationMark promoted = new() { Id = 0x0b, SinceUnixMilliseconds = Now.AddMinutes(7).ToUnixTimeMilliseconds(), Cause = GenerationCause.Promotion };
        DataGenerations primary = DataGenerations.None.Begin(shared).Begin(alone);
        DataGenerations secondary = DataGenerations.None.Begin(shared).Begin(promoted);

        GenerationVerdict verdict = GenerationTable.Decide(primary, secondary, fullSyncAllowed: true);

        Assert.Equal(SyncDecision.RefuseDiverged, verdict.Decision);
        Assert.Contains("split brain", verdict.Explanation, StringComparison.Ordinal);
        Assert.Contains($"after generation {shared.Id:x16}", verdict.Explanation, StringComparison.Ordinal);
        Assert.Contains("this primary in generation 000000000000000a (writes with no secondary following, since 2026-12-01T10:05:00.000Z)", verdict.Explanation, StringComparison.Ordinal);
        Assert.Contains("the secondary in generation 000000000000000b (promotion, since 2026-12-01T10:07:00.000Z)", verdict.Explanation, StringComparison.Ordinal);
        Assert.Contains("discard-my-data", verdict.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_secondary_ahead_is_refused_naming_the_generation_it_wrote_in()
    {
        GenerationMark shared = Mark(GenerationCause.Created);
        GenerationMark promoted = Mark(GenerationCause.Promotion);
        DataGenerations primary = DataGenerations.None.Begin(shared);
        DataGenerations secondary = primary.Begin(promoted);

        GenerationVerdict verdict = GenerationTable.Decide(primary, secondary, fullSyncAllowed: true);

        Assert.Equal(SyncDecision.RefuseSecondaryAhead, verdict.Decision);
        Assert.Contains(promoted.Describe(), verdict.Explanation, StringComparison.Ordinal);
        Assert.Contains(shared.Describe(), verdict.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_nodes_each_holding_the_others_current_generation_are_taken_as_diverged()
    {
        GenerationMark a = Mark(GenerationCause.Created);
        GenerationMark b = Mark(GenerationCause.Created);
        DataGenerations first = DataGenerations.None.Begin(a).Begin(b);
        DataGenerations second = DataGenerations.None.Begin(b).Begin(a);

        Assert.Equal(PairRelation.Diverged, GenerationTable.Relate(first, second));
        Assert.Equal(PairRelation.Diverged, GenerationTable.Relate(second, first));
    }

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    [InlineData(280_975_953_455_108)]
    public void A_time_no_date_can_hold_is_described_not_thrown_over(long since)
    {
        // A peer's marks are only ever read; a bad one must not end the handshake with an exception.
        var mark = new GenerationMark { Id = 9, SinceUnixMilliseconds = since, Cause = (GenerationCause)77 };

        Assert.Contains("not a valid time", mark.Describe(), StringComparison.Ordinal);
        Assert.Contains("cause not said", mark.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_history_keeps_the_newest_generations_up_to_its_bound()
    {
        DataGenerations node = DataGenerations.None;
        var marks = new List<GenerationMark>();
        for (int i = 0; i < DataGenerations.MaxHistory + 5; i++)
        {
            GenerationMark mark = Mark(GenerationCause.UnprotectedWriting);
            marks.Add(mark);
            node = node.Begin(mark);
        }

        Assert.Equal(marks[^1], node.Current);
        Assert.Equal(DataGenerations.MaxHistory, node.History.Count);
        Assert.Equal(marks[^2], node.History[0]);
        Assert.Null(node.Problem());
        Assert.Same(node, node.Begin(marks[^1]));
    }

    [Fact]
    public void Generations_cross_the_wire_unchanged_and_a_peer_sending_a_bad_list_is_named()
    {
        DataGenerations sent = DataGenerations.None.Begin(Mark(GenerationCause.Created)).Begin(Mark(GenerationCause.Promotion));
        DataGenerations received = MessagePackSerializer.Deserialize<DataGenerations>(MessagePackSerializer.Serialize(sent, ControlCodec.Options), ControlCodec.Options);

        Assert.Equal(sent.Current, received.Current);
        Assert.Equal(sent.Current!.SinceUnixMilliseconds, received.Current!.SinceUnixMilliseconds);
        Assert.Equal(sent.Current.Cause, received.Current.Cause);
        Assert.Equal(sent.History, received.History);
        Assert.Equal("a current data generation with id 0", new DataGenerations { Current = new GenerationMark() }.Problem());
        Assert.Contains("at most 16", new DataGenerations { Current = Mark(GenerationCause.Created), History = Enumerable.Range(0, 17).Select(_ => Mark(GenerationCause.Created)).ToList() }.Problem(), StringComparison.Ordinal);
        Assert.Equal("an earlier data generation with id 0", new DataGenerations { Current = Mark(GenerationCause.Created), History = [new GenerationMark()] }.Problem());
    }

    private static void Check(DataGenerations primary, DataGenerations secondary, HashSet<long> primaryData, HashSet<long> secondaryData, HashSet<PairRelation> reached)
    {
        PairRelation truth = secondaryData.Count == 0 ? PairRelation.SecondaryBlank
            : primaryData.SetEquals(secondaryData) ? PairRelation.SameGeneration
            : secondaryData.IsProperSubsetOf(primaryData) ? PairRelation.SecondaryBehind
            : primaryData.IsProperSubsetOf(secondaryData) ? PairRelation.SecondaryAhead
            : primaryData.Overlaps(secondaryData) ? PairRelation.Diverged
            : PairRelation.Unrelated;
        PairRelation relation = GenerationTable.Relate(primary, secondary);
        Assert.Equal(truth, relation);
        reached.Add(relation);

        GenerationVerdict verdict = GenerationTable.Decide(primary, secondary, fullSyncAllowed: false);
        bool copies = verdict.Decision is SyncDecision.Replicate or SyncDecision.Resync or SyncDecision.FullSync;

        // Without the operator's word, a copy never throws away a write only the secondary holds.
        Assert.Equal(secondaryData.IsSubsetOf(primaryData), copies);
        Assert.Equal(!copies, verdict.Explanation is not null);
        if (!copies && !primary.IsBlank)
        {
            Assert.Contains(primary.Current!.Id.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), verdict.Explanation, StringComparison.Ordinal);
        }

        Assert.Equal(copies || relation == PairRelation.Unrelated, !GenerationTable.Decide(primary, secondary, fullSyncAllowed: true).IsRefusal);
    }

    private static IEnumerable<Step[]> Sequences(int length)
    {
        Step[] all = Enum.GetValues<Step>();
        var current = new Step[length];
        long count = (long)Math.Pow(all.Length, length);
        for (long n = 0; n < count; n++)
        {
            long rest = n;
            for (int i = 0; i < length; i++)
            {
                current[i] = all[rest % all.Length];
                rest /= all.Length;
            }

            yield return current;
        }
    }

    private static GenerationMark Mark(GenerationCause cause) => GenerationMark.Draw(cause, Now);

    /// <summary>Two nodes: their generations as the hosts keep them, and the truth — which writers' data each image holds.</summary>
    private sealed class World
    {
        private long _nextWriter = 1;

        public World()
        {
            // A starts the pair; B is a new, blank node.
            A = DataGenerations.None.Begin(NextMark(GenerationCause.Created, DataA));
        }

        public DataGenerations A { get; private set; }

        public DataGenerations B { get; private set; } = DataGenerations.None;

        public HashSet<long> DataA { get; } = [];

        public HashSet<long> DataB { get; } = [];

        public void Apply(Step step)
        {
            switch (step)
            {
                case Step.AWritesAlone:
                    A = A.Begin(NextMark(GenerationCause.UnprotectedWriting, DataA));
                    break;
                case Step.BWritesAlone when !B.IsBlank:
                    B = B.Begin(NextMark(GenerationCause.Promotion, DataB));
                    break;
                case Step.SyncAToB when !GenerationTable.Decide(A, B, fullSyncAllowed: false).IsRefusal:
                    B = A;
                    DataB.Clear();
                    DataB.UnionWith(DataA);
                    break;
                case Step.SyncBToA when !GenerationTable.Decide(B, A, fullSyncAllowed: false).IsRefusal && !B.IsBlank:
                    A = B;
                    DataA.Clear();
                    DataA.UnionWith(DataB);
                    break;
                case Step.DiscardA:
                    A = DataGenerations.None;
                    DataA.Clear();
                    break;
                case Step.DiscardB:
                    B = DataGenerations.None;
                    DataB.Clear();
                    break;
            }
        }

        private GenerationMark NextMark(GenerationCause cause, HashSet<long> data)
        {
            // Ids in order, so a failing history reads easily; what matters is only that each is new.
            long id = _nextWriter++;
            data.Add(id);
            return new GenerationMark { Id = id, SinceUnixMilliseconds = Now.AddSeconds(id).ToUnixTimeMilliseconds(), Cause = cause };
        }
    }
}
